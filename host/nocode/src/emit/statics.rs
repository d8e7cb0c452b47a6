//! Values laid out at compile time: a contract value (e.g. the templates
//! a document declares) serialized in the canonical ABI into the module's
//! data, so returning it costs no code at run time.

use crate::abi::Abi;
use crate::emit::wasm::ModuleBuilder;
use crate::ir::Value;
use wit_parser::{Type, TypeDefKind};

/// Places `value` of type `ty` in the module's data; returns its address.
pub fn place(m: &mut ModuleBuilder, abi: &Abi, ty: &Type, value: &Value) -> u32 {
    let mut bytes = vec![0u8; abi.size(ty) as usize];
    write(m, abi, ty, value, &mut bytes, 0);
    m.data(&bytes, abi.align(ty).max(1))
}

fn put(bytes: &mut [u8], at: usize, raw: &[u8]) {
    bytes[at..at + raw.len()].copy_from_slice(raw);
}

fn write(m: &mut ModuleBuilder, abi: &Abi, ty: &Type, value: &Value, bytes: &mut [u8], at: usize) {
    match (ty, value) {
        (Type::String, Value::Str(s)) => {
            let (p, l) = m.string(s);
            put(bytes, at, &p.to_le_bytes());
            put(bytes, at + 4, &l.to_le_bytes());
        }
        (Type::Bool, Value::Bool(b)) => bytes[at] = u8::from(*b),
        (Type::U8 | Type::S8, Value::Int(v)) => bytes[at] = *v as u8,
        (Type::U32 | Type::S32, Value::Int(v)) => put(bytes, at, &(*v as u32).to_le_bytes()),
        (Type::U64 | Type::S64, Value::Int(v)) => put(bytes, at, &v.to_le_bytes()),
        (Type::Id(_), _) => write_def(m, abi, ty, value, bytes, at),
        other => panic!("cannot lay out {other:?}"),
    }
}

fn write_def(
    m: &mut ModuleBuilder,
    abi: &Abi,
    ty: &Type,
    value: &Value,
    bytes: &mut [u8],
    at: usize,
) {
    match (abi.kind(ty).clone(), value) {
        (TypeDefKind::Type(inner), _) => write(m, abi, &inner, value, bytes, at),
        (TypeDefKind::Record(r), Value::Fields(values)) => {
            for (f, v) in r.fields.iter().zip(values) {
                let off = abi.record_field(ty, &f.name).offset as usize;
                write(m, abi, &f.ty, v, bytes, at + off);
            }
        }
        (TypeDefKind::Tuple(t), Value::Fields(values)) => {
            for (i, v) in values.iter().enumerate().take(t.types.len()) {
                let f = abi.tuple_field(ty, i);
                write(m, abi, &f.ty, v, bytes, at + f.offset as usize);
            }
        }
        (TypeDefKind::List(elem), Value::List(items)) => {
            let size = abi.size(&elem) as usize;
            let mut buf = vec![0u8; size * items.len()];
            for (i, item) in items.iter().enumerate() {
                write(m, abi, &elem, item, &mut buf, i * size);
            }
            let addr = m.data(&buf, abi.align(&elem).max(1));
            put(bytes, at, &addr.to_le_bytes());
            put(bytes, at + 4, &(items.len() as u32).to_le_bytes());
        }
        (TypeDefKind::Enum(_), Value::Case(case, None)) => bytes[at] = *case as u8,
        (TypeDefKind::Variant(v), Value::Case(case, payload)) => {
            bytes[at] = *case as u8;
            if let (Some(p), Some(pty)) = (payload, v.cases[*case as usize].ty) {
                let off = abi.payload_offset(ty) as usize;
                write(m, abi, &pty, p, bytes, at + off);
            }
        }
        (TypeDefKind::Option(inner), Value::Opt(v)) => {
            if let Some(v) = v {
                bytes[at] = 1;
                let off = abi.payload_offset(ty) as usize;
                write(m, abi, &inner, v, bytes, at + off);
            }
        }
        (kind, v) => panic!("cannot lay out {v:?} as {kind:?}"),
    }
}
