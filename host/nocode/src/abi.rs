//! Canonical ABI layouts of the contract's types, computed from the WIT with
//! `wit-parser`, so the emitted code reads and writes exactly what the
//! component model lifts and lowers.

use docket_contract::componentize::contract_resolve;
use std::collections::HashMap;
use wit_parser::{Resolve, SizeAlign, Type, TypeDefKind, TypeId};

/// Size, alignment and field offsets of the contract's named types.
pub struct Abi {
    resolve: Resolve,
    sizes: SizeAlign,
    named: HashMap<(String, String), TypeId>,
}

/// A field of a record: where it sits and what it is.
#[derive(Clone, Copy)]
pub struct Field {
    /// Byte offset inside the record.
    pub offset: u32,
    /// The field's type.
    pub ty: Type,
}

impl Abi {
    /// Loads the contract and computes every layout.
    pub fn new() -> anyhow::Result<Abi> {
        let resolve = contract_resolve()?;
        let mut sizes = SizeAlign::default();
        sizes.fill(&resolve);
        let mut named = HashMap::new();
        for (_, iface) in resolve.interfaces.iter() {
            let Some(iface_name) = &iface.name else {
                continue;
            };
            for (type_name, id) in &iface.types {
                named.insert((iface_name.clone(), type_name.clone()), *id);
            }
        }
        Ok(Abi {
            resolve,
            sizes,
            named,
        })
    }

    /// The type `interface.name`; panics on a name the contract lacks (a
    /// compiler bug, not a user error).
    pub fn named(&self, interface: &str, name: &str) -> Type {
        let id = self
            .named
            .get(&(interface.to_string(), name.to_string()))
            .unwrap_or_else(|| panic!("contract has no type {interface}.{name}"));
        Type::Id(*id)
    }

    /// Byte size of a type.
    pub fn size(&self, ty: &Type) -> u32 {
        self.sizes.size(ty).size_wasm32() as u32
    }

    /// Alignment of a type.
    pub fn align(&self, ty: &Type) -> u32 {
        self.sizes.align(ty).align_wasm32() as u32
    }

    /// The field `field` of record `interface.record`.
    pub fn field(&self, interface: &str, record: &str, field: &str) -> Field {
        self.record_field(&self.named(interface, record), field)
    }

    /// The field `field` of a record type.
    pub fn record_field(&self, record: &Type, field: &str) -> Field {
        let TypeDefKind::Record(r) = &self.def(record).kind else {
            panic!("not a record: {record:?}");
        };
        let offsets = self.sizes.field_offsets(r.fields.iter().map(|f| &f.ty));
        r.fields
            .iter()
            .zip(offsets)
            .find(|(f, _)| f.name == field)
            .map(|(f, (off, _))| Field {
                offset: off.size_wasm32() as u32,
                ty: f.ty,
            })
            .unwrap_or_else(|| panic!("record has no field {field}"))
    }

    /// The `index`-th element of a tuple type.
    pub fn tuple_field(&self, tuple: &Type, index: usize) -> Field {
        let TypeDefKind::Tuple(t) = &self.def(tuple).kind else {
            panic!("not a tuple: {tuple:?}");
        };
        let offsets = self.sizes.field_offsets(t.types.iter());
        let (offset, ty) = offsets[index];
        Field {
            offset: offset.size_wasm32() as u32,
            ty: *ty,
        }
    }

    /// Offset of the payload of a variant, option or result type.
    pub fn payload_offset(&self, ty: &Type) -> u32 {
        let def = self.def(ty);
        let cases: Vec<Option<&Type>> = match &def.kind {
            TypeDefKind::Variant(v) => v.cases.iter().map(|c| c.ty.as_ref()).collect(),
            TypeDefKind::Option(t) => vec![None, Some(t)],
            other => panic!("no payload in {other:?}"),
        };
        let tag = match &def.kind {
            TypeDefKind::Variant(v) => v.tag(),
            _ => wit_parser::Int::U8,
        };
        self.sizes.payload_offset(tag, cases).size_wasm32() as u32
    }

    /// The payload type of an option, or of a variant's named case.
    pub fn payload_type(&self, ty: &Type, case: Option<&str>) -> Type {
        match (&self.def(ty).kind, case) {
            (TypeDefKind::Option(t), None) => *t,
            (TypeDefKind::Variant(v), Some(case)) => v
                .cases
                .iter()
                .find(|c| c.name == case)
                .and_then(|c| c.ty)
                .unwrap_or_else(|| panic!("variant case {case} has no payload")),
            (other, _) => panic!("no payload in {other:?}"),
        }
    }

    /// The discriminant of a variant or enum case.
    pub fn case_index(&self, ty: &Type, case: &str) -> u32 {
        let index = match &self.def(ty).kind {
            TypeDefKind::Variant(v) => v.cases.iter().position(|c| c.name == case),
            TypeDefKind::Enum(e) => e.cases.iter().position(|c| c.name == case),
            other => panic!("no cases in {other:?}"),
        };
        index.unwrap_or_else(|| panic!("no case {case}")) as u32
    }

    /// Offsets of a function's parameters inside the tuple the caller
    /// passes by pointer (more than 16 flat values).
    pub fn param_offsets(&self, interface: &str, function: &str) -> Vec<u32> {
        let f = self.function(interface, function);
        self.sizes
            .field_offsets(f.params.iter().map(|p| &p.ty))
            .into_iter()
            .map(|(o, _)| o.size_wasm32() as u32)
            .collect()
    }

    /// The core wasm parameter types of an exported function, and whether
    /// they are one pointer to the parameters in memory.
    pub fn export_params(
        &self,
        interface: &str,
        function: &str,
    ) -> (Vec<wasm_encoder::ValType>, bool) {
        let f = self.function(interface, function);
        let sig = self
            .resolve
            .wasm_signature(wit_parser::abi::AbiVariant::GuestExport, f);
        let params = sig
            .params
            .iter()
            .map(|t| match t {
                wit_parser::abi::WasmType::I64 => wasm_encoder::ValType::I64,
                _ => wasm_encoder::ValType::I32,
            })
            .collect();
        (params, sig.indirect_params)
    }

    /// The result type of a contract function.
    pub fn result(&self, interface: &str, function: &str) -> Type {
        self.function(interface, function)
            .result
            .expect("contract functions return a value")
    }

    fn function(&self, interface: &str, function: &str) -> &wit_parser::Function {
        self.resolve
            .interfaces
            .iter()
            .find(|(_, i)| i.name.as_deref() == Some(interface))
            .and_then(|(_, i)| i.functions.get(function))
            .unwrap_or_else(|| panic!("contract has no {interface}.{function}"))
    }

    /// The definition of a named type, aliases followed.
    pub fn kind(&self, ty: &Type) -> &TypeDefKind {
        &self.def(ty).kind
    }

    /// Follows type aliases (`type instant = s64`) to the definition.
    fn def(&self, ty: &Type) -> &wit_parser::TypeDef {
        let Type::Id(id) = ty else {
            panic!("primitive has no definition: {ty:?}")
        };
        let mut id = *id;
        loop {
            let def = &self.resolve.types[id];
            match &def.kind {
                TypeDefKind::Type(Type::Id(next)) => id = *next,
                _ => return def,
            }
        }
    }
}
