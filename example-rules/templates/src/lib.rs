//! Ticket forms of a company that repairs equipment and runs a web shop.
//!
//! - `equipment-repair` (category `hardware`): device model and its dependent
//!   variant, a serial number matching `[A-Z]{2}[0-9]{6}`, urgency (default
//!   normal), 0–10 photos, warranty with a purchase date shown only under
//!   warranty, and a resolution code required to solve.
//! - `returns` (category `returns`): order number `ORD-` + 8 digits, order
//!   value, reason, condition, damage photos shown only for damaged items,
//!   refund method and amount required to solve; the refund may not exceed
//!   the order value.
use docket_guest_sdk::prelude::*;
use docket_guest_sdk::validate;

/// The template plugin.
pub struct ServiceForms;

fn choices(values: &[&str]) -> Vec<Choice> {
    values
        .iter()
        .map(|v| Choice {
            value: v.to_string(),
            label: v.replace('-', " "),
        })
        .collect()
}

fn field(key: &str, label: &str, kind: FieldKind) -> FieldDef {
    FieldDef {
        key: key.into(),
        label: label.into(),
        kind,
        required: Requirement {
            on_create: false,
            on_solve: false,
        },
        default: None,
        depends_on: None,
        visible_when: None,
        help: String::new(),
    }
}

fn required_on_create(mut f: FieldDef) -> FieldDef {
    f.required.on_create = true;
    f
}

fn required_to_solve(mut f: FieldDef) -> FieldDef {
    f.required.on_solve = true;
    f
}

fn visible_when(mut f: FieldDef, field: &str, any_of: &[&str]) -> FieldDef {
    f.visible_when = Some(Visibility {
        field: field.into(),
        any_of: any_of.iter().map(|s| s.to_string()).collect(),
    });
    f
}

fn equipment_repair() -> TicketTemplate {
    let mut variant = field(
        "device_variant",
        "Device variant",
        FieldKind::Dropdown(choices(&[
            "x1-carbon",
            "latitude-7440",
            "macbook-pro",
            "optiplex-7010",
            "imac",
            "laserjet-m404",
            "pixma-g650",
            "pixel-8",
            "iphone-15",
        ])),
    );
    variant.depends_on = Some(DependentOptions {
        parent: "device_model".into(),
        options: vec![
            (
                "laptop".into(),
                vec![
                    "x1-carbon".into(),
                    "latitude-7440".into(),
                    "macbook-pro".into(),
                ],
            ),
            (
                "desktop".into(),
                vec!["optiplex-7010".into(), "imac".into()],
            ),
            (
                "printer".into(),
                vec!["laserjet-m404".into(), "pixma-g650".into()],
            ),
            ("phone".into(), vec!["pixel-8".into(), "iphone-15".into()]),
        ],
    });
    let mut urgency = field(
        "urgency",
        "Urgency",
        FieldKind::Dropdown(choices(&["low", "normal", "high", "critical"])),
    );
    urgency.default = Some(FieldValue::Choice("normal".into()));
    let mut serial = required_on_create(field(
        "serial_number",
        "Serial number",
        FieldKind::Regex("[A-Z]{2}[0-9]{6}".into()),
    ));
    serial.help = "Two capital letters and six digits, on the label under the device".into();
    TicketTemplate {
        id: "equipment-repair".into(),
        name: "Equipment repair".into(),
        categories: vec!["hardware".into()],
        fields: vec![
            required_on_create(field(
                "device_model",
                "Device model",
                FieldKind::Dropdown(choices(&["laptop", "desktop", "printer", "phone"])),
            )),
            variant,
            serial,
            urgency,
            field(
                "photos_count",
                "Photos attached",
                FieldKind::Integer(IntegerBounds {
                    min: Some(0),
                    max: Some(10),
                }),
            ),
            field("under_warranty", "Under warranty", FieldKind::Checkbox),
            visible_when(
                required_on_create(field("purchase_date", "Purchase date", FieldKind::Date)),
                "under_warranty",
                &["true"],
            ),
            field("fault_description", "What is wrong", FieldKind::Textarea),
            required_to_solve(field(
                "resolution_code",
                "Resolution code",
                FieldKind::Dropdown(choices(&[
                    "repaired",
                    "replaced",
                    "no-fault-found",
                    "customer-damage",
                ])),
            )),
        ],
    }
}

fn returns() -> TicketTemplate {
    TicketTemplate {
        id: "returns".into(),
        name: "Web shop return".into(),
        categories: vec!["returns".into()],
        fields: vec![
            required_on_create(field(
                "order_number",
                "Order number",
                FieldKind::Regex("ORD-[0-9]{8}".into()),
            )),
            required_on_create(field(
                "order_value",
                "Order value",
                FieldKind::Money("EUR".into()),
            )),
            required_on_create(field(
                "return_reason",
                "Reason",
                FieldKind::Dropdown(choices(&[
                    "damaged",
                    "wrong-item",
                    "not-as-described",
                    "changed-mind",
                ])),
            )),
            field(
                "item_condition",
                "Item condition",
                FieldKind::Dropdown(choices(&["unopened", "opened", "damaged"])),
            ),
            visible_when(
                required_on_create(field(
                    "damage_photos",
                    "Photos of the damage",
                    FieldKind::Integer(IntegerBounds {
                        min: Some(1),
                        max: Some(10),
                    }),
                )),
                "return_reason",
                &["damaged"],
            ),
            required_to_solve(field(
                "refund_method",
                "Refund method",
                FieldKind::Dropdown(choices(&["original-payment", "store-credit"])),
            )),
            required_to_solve(field(
                "refund_amount",
                "Refund amount",
                FieldKind::Money("EUR".into()),
            )),
        ],
    }
}

/// The refund may not exceed what was paid.
fn refund_within_order(t: &Ticket) -> Option<FieldError> {
    let order = t.field("order_value").and_then(FieldValue::as_money)?;
    let refund = t.field("refund_amount").and_then(FieldValue::as_money)?;
    (refund.currency == order.currency && refund.amount_minor > order.amount_minor).then(|| {
        FieldError {
            field: "refund_amount".into(),
            code: ErrorCode::OutOfRange,
            message: format!("refund {refund} exceeds the order value {order}"),
        }
    })
}

impl Template for ServiceForms {
    fn templates(_ctx: &Context) -> Vec<TicketTemplate> {
        vec![equipment_repair(), returns()]
    }

    fn validate(ev: &Event, t: &Ticket, ctx: &Context) -> Validation {
        let mut v = validate::validate(&Self::templates(ctx), ev, t);
        v.errors.extend(refund_within_order(t));
        v
    }
}

docket_guest_sdk::export_plugin!(ServiceForms: template);
