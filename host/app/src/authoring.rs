//! What a rules editor asks of the service: checking a draft as it is
//! typed (located diagnostics, what it declares, the forms it would show)
//! and reading an installed version back (its document, its forms). The
//! forms are the plugin's own answer to `templates(ctx)`, called in a
//! sandbox with the settings of the pipeline step that runs it.

use crate::error::AppError;
use crate::service::{Service, check_id};
use docket_contract::bindings::exports::docket::plugin::template::TicketTemplate;
use docket_contract::wire::templates;
use docket_contract::{Capability, PluginError, RuleDiagnostic};
use docket_engine::plugin::Plugin;
use docket_engine::{DocketError, PluginSource, VersionInfo};
use docket_nocode::vocabulary::Outline;
use serde::Serialize;

/// A draft rule document, checked.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RulesCheck {
    /// Whether it compiles under the tenant's limits.
    pub ok: bool,
    /// Where it does not, each error located (line, column, hint).
    pub diagnostics: Vec<RuleDiagnostic>,
    /// The compiler's report, rendered for people, when it does not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<String>,
    /// The capabilities it exports, when it compiles.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub capabilities: Vec<Capability>,
    /// What it declares (settings, tables, fields), as far as its TOML
    /// reads even when it does not compile: names for completion.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub outline: Outline,
    /// The forms it declares, when it compiles and has templates.
    #[serde(with = "templates")]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<docket_contract::wire::TicketTemplateDef>))]
    pub templates: Vec<TicketTemplate>,
}

/// An installed version, read back.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VersionDetail {
    /// The version.
    #[serde(flatten)]
    pub version: VersionInfo,
    /// The no-code document it was compiled from; absent for wasm.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rules: Option<String>,
    /// The forms it declares (empty without the template capability).
    #[serde(with = "templates")]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<docket_contract::wire::TicketTemplateDef>))]
    pub templates: Vec<TicketTemplate>,
}

impl Service {
    /// Checks a draft no-code document for plugin `plugin` of the tenant:
    /// compiled under the tenant's limits, nothing installed. A document
    /// that does not compile is an answer (`ok: false` with diagnostics),
    /// not an error.
    ///
    /// # Errors
    /// An unknown tenant or a bad plugin name; a template call that fails
    /// (the plugin's error, e.g. out of fuel).
    pub fn check_rules(
        &self,
        tenant: &str,
        plugin: &str,
        document: &str,
    ) -> Result<RulesCheck, AppError> {
        check_id("plugin name", plugin)?;
        self.tenant(tenant)?;
        let outline = docket_nocode::vocabulary::outline(document);
        let compiled =
            match self
                .docket()
                .compile_for(tenant, plugin, PluginSource::Rules(document))
            {
                Ok(compiled) => compiled,
                // Whatever is wrong with the draft itself (its rules, or
                // its size under the tenant's limits) is the check's answer.
                Err(DocketError::Install { error, .. }) => {
                    let (report, diagnostics) = match error {
                        PluginError::InvalidRules {
                            report,
                            diagnostics,
                        } => (report, diagnostics),
                        other => (format!("{other} ({})", other.kind()), Vec::new()),
                    };
                    return Ok(RulesCheck {
                        ok: false,
                        diagnostics,
                        report: Some(report),
                        capabilities: Vec::new(),
                        outline,
                        templates: Vec::new(),
                    });
                }
                Err(e) => return Err(e.into()),
            };
        Ok(RulesCheck {
            ok: true,
            diagnostics: Vec::new(),
            report: None,
            capabilities: compiled.info().capabilities.clone(),
            templates: self.templates_of(tenant, plugin, &compiled)?,
            outline,
        })
    }

    /// An installed version of a plugin (by number or hash prefix): what it
    /// is, its no-code document if it has one, and the forms it declares.
    ///
    /// # Errors
    /// An unknown tenant, plugin or version; a template call that fails.
    pub fn version_detail(
        &self,
        tenant: &str,
        plugin: &str,
        version: &str,
    ) -> Result<VersionDetail, AppError> {
        self.tenant(tenant)?;
        let (number, compiled) = self.docket().installed_version(tenant, plugin, version)?;
        let info = self
            .docket()
            .versions(tenant, plugin)?
            .into_iter()
            .find(|v| v.version == number)
            .ok_or_else(|| AppError::NotFound(format!("plugin `{plugin}` version {number}")))?;
        Ok(VersionDetail {
            version: info,
            rules: compiled.rule_document().map(str::to_string),
            templates: self.templates_of(tenant, plugin, &compiled)?,
        })
    }

    /// The forms `compiled` declares as plugin `name` of the tenant's
    /// active pipeline.
    fn templates_of(
        &self,
        tenant: &str,
        name: &str,
        compiled: &Plugin,
    ) -> Result<Vec<TicketTemplate>, AppError> {
        let pipeline = self.docket().pipeline(tenant)?;
        self.docket()
            .templates_in(&pipeline, name, compiled, self.now())
            .map_err(|e| {
                AppError::unprocessable(
                    "plugin_failed",
                    format!("plugin `{name}`: templates() failed: {e}"),
                )
            })
    }
}
