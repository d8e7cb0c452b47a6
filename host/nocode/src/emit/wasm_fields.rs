//! Runtime helpers for custom field values: blank text, character counts,
//! ISO dates, and the text forms of a value (for visibility rules and
//! dependent dropdowns), mirroring the SDK's generic validator.

use crate::emit::wasm::{Helper, ModuleBuilder, mem};
use wasm_encoder::{BlockType, Instruction as I, ValType};

impl ModuleBuilder {
    #[allow(clippy::too_many_lines)]
    pub(super) fn define_field_helpers(&mut self, payload: u32) {
        use ValType::{I32, I64};
        // is_blank(p, l); locals 2 = i, 3 = byte, 4 = b1, 5 = b2
        let byte = |at: i32| {
            vec![
                I::LocalGet(0),
                I::LocalGet(2),
                I::I32Add,
                I::I32Load8U(mem(at as u32, 0)),
            ]
        };
        let mut code = vec![I::Block(BlockType::Empty), I::Loop(BlockType::Empty)];
        code.extend([I::LocalGet(2), I::LocalGet(1), I::I32GeU, I::BrIf(1)]);
        code.extend(byte(0));
        code.push(I::LocalSet(3));
        code.extend(byte(1));
        code.push(I::LocalSet(4));
        code.extend(byte(2));
        code.push(I::LocalSet(5));
        // ASCII whitespace: 9..=13 or 32 → one byte
        code.extend([
            I::LocalGet(3),
            I::I32Const(32),
            I::I32Eq,
            I::LocalGet(3),
            I::I32Const(9),
            I::I32Sub,
            I::I32Const(5),
            I::I32LtU,
            I::I32Or,
            I::If(BlockType::Empty),
            I::LocalGet(2),
            I::I32Const(1),
            I::I32Add,
            I::LocalSet(2),
            I::Br(1),
            I::End,
        ]);
        // U+0085, U+00A0 → two bytes
        code.extend([
            I::LocalGet(3),
            I::I32Const(0xC2),
            I::I32Eq,
            I::LocalGet(4),
            I::I32Const(0x85),
            I::I32Eq,
            I::LocalGet(4),
            I::I32Const(0xA0),
            I::I32Eq,
            I::I32Or,
            I::I32And,
            I::If(BlockType::Empty),
            I::LocalGet(2),
            I::I32Const(2),
            I::I32Add,
            I::LocalSet(2),
            I::Br(1),
            I::End,
        ]);
        // Three-byte spaces: E1 9A 80; E2 80 80..=8A, A8, A9, AF; E2 81 9F; E3 80 80
        let eq = |local: u32, v: i32| [I::LocalGet(local), I::I32Const(v), I::I32Eq];
        let mut three = Vec::new();
        three.extend(eq(3, 0xE1));
        three.extend(eq(4, 0x9A));
        three.push(I::I32And);
        three.extend(eq(5, 0x80));
        three.push(I::I32And);
        three.extend(eq(3, 0xE2));
        three.extend(eq(4, 0x80));
        three.push(I::I32And);
        three.extend([
            I::LocalGet(5),
            I::I32Const(0x80),
            I::I32Sub,
            I::I32Const(0x0B),
            I::I32LtU,
        ]);
        three.extend(eq(5, 0xA8));
        three.push(I::I32Or);
        three.extend(eq(5, 0xA9));
        three.push(I::I32Or);
        three.extend(eq(5, 0xAF));
        three.push(I::I32Or);
        three.push(I::I32And);
        three.push(I::I32Or);
        three.extend(eq(3, 0xE2));
        three.extend(eq(4, 0x81));
        three.push(I::I32And);
        three.extend(eq(5, 0x9F));
        three.push(I::I32And);
        three.push(I::I32Or);
        three.extend(eq(3, 0xE3));
        three.extend(eq(4, 0x80));
        three.push(I::I32And);
        three.extend(eq(5, 0x80));
        three.push(I::I32And);
        three.push(I::I32Or);
        code.extend(three);
        code.extend([
            I::If(BlockType::Empty),
            I::LocalGet(2),
            I::I32Const(3),
            I::I32Add,
            I::LocalSet(2),
            I::Br(1),
            I::End,
            I::I32Const(0),
            I::Return,
            I::End,
            I::End,
            I::I32Const(1),
        ]);
        self.add_helper(
            Helper::IsBlank,
            &[I32, I32],
            &[I32],
            &[I32, I32, I32, I32],
            &code,
        );

        // char_count(p, l) -> i64; locals 2 = i, 3 = n
        self.add_helper(
            Helper::CharCount,
            &[I32, I32],
            &[I64],
            &[I32, I64],
            &[
                I::Block(BlockType::Empty),
                I::Loop(BlockType::Empty),
                I::LocalGet(2),
                I::LocalGet(1),
                I::I32GeU,
                I::BrIf(1),
                I::LocalGet(3),
                I::LocalGet(0),
                I::LocalGet(2),
                I::I32Add,
                I::I32Load8U(mem(0, 0)),
                I::I32Const(0xC0),
                I::I32And,
                I::I32Const(0x80),
                I::I32Ne,
                I::I64ExtendI32U,
                I::I64Add,
                I::LocalSet(3),
                I::LocalGet(2),
                I::I32Const(1),
                I::I32Add,
                I::LocalSet(2),
                I::Br(0),
                I::End,
                I::End,
                I::LocalGet(3),
            ],
        );

        // parse_u32(p, l) -> i64 value or -1, as Rust's `str::parse::<u32>`
        // for at most four characters (an optional leading '+').
        // locals 2 = i, 3 = value, 4 = byte
        let parse = self.function(
            &[I32, I32],
            &[I64],
            Self::body(
                &[I32, I64, I32],
                &[
                    I::LocalGet(1),
                    I::I32Eqz,
                    I::If(BlockType::Empty),
                    I::I64Const(-1),
                    I::Return,
                    I::End,
                    I::LocalGet(0),
                    I::I32Load8U(mem(0, 0)),
                    I::I32Const(43),
                    I::I32Eq,
                    I::If(BlockType::Empty),
                    I::LocalGet(1),
                    I::I32Const(1),
                    I::I32Eq,
                    I::If(BlockType::Empty),
                    I::I64Const(-1),
                    I::Return,
                    I::End,
                    I::I32Const(1),
                    I::LocalSet(2),
                    I::End,
                    I::Block(BlockType::Empty),
                    I::Loop(BlockType::Empty),
                    I::LocalGet(2),
                    I::LocalGet(1),
                    I::I32GeU,
                    I::BrIf(1),
                    I::LocalGet(0),
                    I::LocalGet(2),
                    I::I32Add,
                    I::I32Load8U(mem(0, 0)),
                    I::I32Const(48),
                    I::I32Sub,
                    I::LocalTee(4),
                    I::I32Const(10),
                    I::I32GeU,
                    I::If(BlockType::Empty),
                    I::I64Const(-1),
                    I::Return,
                    I::End,
                    I::LocalGet(3),
                    I::I64Const(10),
                    I::I64Mul,
                    I::LocalGet(4),
                    I::I64ExtendI32U,
                    I::I64Add,
                    I::LocalSet(3),
                    I::LocalGet(2),
                    I::I32Const(1),
                    I::I32Add,
                    I::LocalSet(2),
                    I::Br(0),
                    I::End,
                    I::End,
                    I::LocalGet(3),
                ],
            ),
        );
        // is_iso_date(p, l); locals 2 = y, 3 = m, 4 = d (i64), 5 = days
        let part = |at: i32, len: i32, local: u32| {
            [
                I::LocalGet(0),
                I::I32Const(at),
                I::I32Add,
                I::I32Const(len),
                I::Call(parse),
                I::LocalTee(local),
                I::I64Const(0),
                I::I64LtS,
                I::If(BlockType::Empty),
                I::I32Const(0),
                I::Return,
                I::End,
            ]
        };
        let mut code = vec![
            I::LocalGet(1),
            I::I32Const(10),
            I::I32Ne,
            I::LocalGet(0),
            I::I32Load8U(mem(4, 0)),
            I::I32Const(45),
            I::I32Ne,
            I::I32Or,
            I::LocalGet(0),
            I::I32Load8U(mem(7, 0)),
            I::I32Const(45),
            I::I32Ne,
            I::I32Or,
            I::If(BlockType::Empty),
            I::I32Const(0),
            I::Return,
            I::End,
        ];
        code.extend(part(0, 4, 2));
        code.extend(part(5, 2, 3));
        code.extend(part(8, 2, 4));
        // month in 1..=12
        code.extend([
            I::LocalGet(3),
            I::I64Const(1),
            I::I64Sub,
            I::I64Const(12),
            I::I64GeU,
            I::If(BlockType::Empty),
            I::I32Const(0),
            I::Return,
            I::End,
        ]);
        // days: Feb 28 + leap; Apr, Jun, Sep, Nov 30; else 31
        code.extend([
            I::LocalGet(3),
            I::I64Const(2),
            I::I64Eq,
            I::If(BlockType::Result(I64)),
            I::I64Const(28),
            // leap = y%4==0 && y%100!=0 || y%400==0
            I::LocalGet(2),
            I::I64Const(4),
            I::I64RemU,
            I::I64Eqz,
            I::LocalGet(2),
            I::I64Const(100),
            I::I64RemU,
            I::I64Const(0),
            I::I64Ne,
            I::I32And,
            I::LocalGet(2),
            I::I64Const(400),
            I::I64RemU,
            I::I64Eqz,
            I::I32Or,
            I::I64ExtendI32U,
            I::I64Add,
            I::Else,
            I::I64Const(30),
            I::I64Const(31),
            I::LocalGet(3),
            I::I64Const(4),
            I::I64Eq,
            I::LocalGet(3),
            I::I64Const(6),
            I::I64Eq,
            I::I32Or,
            I::LocalGet(3),
            I::I64Const(9),
            I::I64Eq,
            I::I32Or,
            I::LocalGet(3),
            I::I64Const(11),
            I::I64Eq,
            I::I32Or,
            I::Select,
            I::End,
            I::LocalSet(5),
            I::LocalGet(4),
            I::I64Const(1),
            I::I64GeS,
            I::LocalGet(4),
            I::LocalGet(5),
            I::I64LeS,
            I::I32And,
        ]);
        self.add_helper(
            Helper::IsIsoDate,
            &[I32, I32],
            &[I32],
            &[I64, I64, I64, I64],
            &code,
        );

        // text forms of a field value
        let (true_p, true_l) = self.string("true");
        let (false_p, false_l) = self.string("false");
        let (sep_p, _) = self.string(", ");
        let eq = self.helper(Helper::StrEq);
        let has = self.helper(Helper::ListHas);
        let fmt = self.helper(Helper::FormatInt);
        let alloc = self.helper(Helper::Alloc);
        let p = payload;
        // value_has(v, p, l); local 3 = tag
        self.add_helper(
            Helper::ValueHas,
            &[I32, I32, I32],
            &[I32],
            &[I32],
            &[
                I::LocalGet(0),
                I::I32Eqz,
                I::If(BlockType::Empty),
                I::I32Const(0),
                I::Return,
                I::End,
                I::LocalGet(0),
                I::I32Load8U(mem(0, 0)),
                I::LocalTee(3),
                I::I32Const(7),
                I::I32Eq,
                I::If(BlockType::Empty),
                I::LocalGet(0),
                I::I32Load(mem(p, 2)),
                I::LocalGet(0),
                I::I32Load(mem(p + 4, 2)),
                I::LocalGet(1),
                I::LocalGet(2),
                I::Call(has),
                I::Return,
                I::End,
                I::LocalGet(3),
                I::I32Eqz,
                I::LocalGet(3),
                I::I32Const(3),
                I::I32Eq,
                I::I32Or,
                I::LocalGet(3),
                I::I32Const(6),
                I::I32Eq,
                I::I32Or,
                I::If(BlockType::Empty),
                I::LocalGet(0),
                I::I32Load(mem(p, 2)),
                I::LocalGet(0),
                I::I32Load(mem(p + 4, 2)),
                I::LocalGet(1),
                I::LocalGet(2),
                I::Call(eq),
                I::Return,
                I::End,
                I::LocalGet(3),
                I::I32Const(1),
                I::I32Eq,
                I::If(BlockType::Empty),
                I::LocalGet(0),
                I::I64Load(mem(p, 3)),
                I::Call(fmt),
                I::LocalGet(1),
                I::LocalGet(2),
                I::Call(eq),
                I::Return,
                I::End,
                I::LocalGet(3),
                I::I32Const(5),
                I::I32Eq,
                I::If(BlockType::Empty),
                I::I32Const(true_p as i32),
                I::I32Const(false_p as i32),
                I::LocalGet(0),
                I::I32Load8U(mem(p, 0)),
                I::Select,
                I::I32Const(true_l as i32),
                I::I32Const(false_l as i32),
                I::LocalGet(0),
                I::I32Load8U(mem(p, 0)),
                I::Select,
                I::LocalGet(1),
                I::LocalGet(2),
                I::Call(eq),
                I::Return,
                I::End,
                I::I32Const(0),
            ],
        );
        // value_join(v) -> (p, l); locals 1 = tag, 2 = list, 3 = n, 4 = i,
        // 5 = size, 6 = out, 7 = at, 8 = item
        self.add_helper(
            Helper::ValueJoin,
            &[I32],
            &[I32, I32],
            &[I32, I32, I32, I32, I32, I32, I32, I32],
            &[
                I::LocalGet(0),
                I::I32Eqz,
                I::If(BlockType::Empty),
                I::I32Const(sep_p as i32),
                I::I32Const(0),
                I::Return,
                I::End,
                I::LocalGet(0),
                I::I32Load8U(mem(0, 0)),
                I::LocalTee(1),
                I::I32Eqz,
                I::LocalGet(1),
                I::I32Const(3),
                I::I32Eq,
                I::I32Or,
                I::LocalGet(1),
                I::I32Const(6),
                I::I32Eq,
                I::I32Or,
                I::If(BlockType::Empty),
                I::LocalGet(0),
                I::I32Load(mem(p, 2)),
                I::LocalGet(0),
                I::I32Load(mem(p + 4, 2)),
                I::Return,
                I::End,
                I::LocalGet(1),
                I::I32Const(1),
                I::I32Eq,
                I::If(BlockType::Empty),
                I::LocalGet(0),
                I::I64Load(mem(p, 3)),
                I::Call(fmt),
                I::Return,
                I::End,
                I::LocalGet(1),
                I::I32Const(5),
                I::I32Eq,
                I::If(BlockType::Empty),
                I::I32Const(true_p as i32),
                I::I32Const(false_p as i32),
                I::LocalGet(0),
                I::I32Load8U(mem(p, 0)),
                I::Select,
                I::I32Const(true_l as i32),
                I::I32Const(false_l as i32),
                I::LocalGet(0),
                I::I32Load8U(mem(p, 0)),
                I::Select,
                I::Return,
                I::End,
                I::LocalGet(1),
                I::I32Const(7),
                I::I32Ne,
                I::If(BlockType::Empty),
                I::I32Const(sep_p as i32),
                I::I32Const(0),
                I::Return,
                I::End,
                // join: size = sum of lengths + 2 per separator
                I::LocalGet(0),
                I::I32Load(mem(p, 2)),
                I::LocalSet(2),
                I::LocalGet(0),
                I::I32Load(mem(p + 4, 2)),
                I::LocalSet(3),
                I::Block(BlockType::Empty),
                I::Loop(BlockType::Empty),
                I::LocalGet(4),
                I::LocalGet(3),
                I::I32GeU,
                I::BrIf(1),
                I::LocalGet(5),
                I::LocalGet(2),
                I::LocalGet(4),
                I::I32Const(3),
                I::I32Shl,
                I::I32Add,
                I::I32Load(mem(4, 2)),
                I::I32Add,
                I::I32Const(2),
                I::I32Add,
                I::LocalSet(5),
                I::LocalGet(4),
                I::I32Const(1),
                I::I32Add,
                I::LocalSet(4),
                I::Br(0),
                I::End,
                I::End,
                I::LocalGet(5),
                I::I32Const(1),
                I::Call(alloc),
                I::LocalTee(6),
                I::LocalSet(7),
                I::I32Const(0),
                I::LocalSet(4),
                I::Block(BlockType::Empty),
                I::Loop(BlockType::Empty),
                I::LocalGet(4),
                I::LocalGet(3),
                I::I32GeU,
                I::BrIf(1),
                I::LocalGet(4),
                I::If(BlockType::Empty),
                I::LocalGet(7),
                I::I32Const(sep_p as i32),
                I::I32Const(2),
                I::MemoryCopy {
                    src_mem: 0,
                    dst_mem: 0,
                },
                I::LocalGet(7),
                I::I32Const(2),
                I::I32Add,
                I::LocalSet(7),
                I::End,
                I::LocalGet(2),
                I::LocalGet(4),
                I::I32Const(3),
                I::I32Shl,
                I::I32Add,
                I::LocalSet(8),
                I::LocalGet(7),
                I::LocalGet(8),
                I::I32Load(mem(0, 2)),
                I::LocalGet(8),
                I::I32Load(mem(4, 2)),
                I::MemoryCopy {
                    src_mem: 0,
                    dst_mem: 0,
                },
                I::LocalGet(7),
                I::LocalGet(8),
                I::I32Load(mem(4, 2)),
                I::I32Add,
                I::LocalSet(7),
                I::LocalGet(4),
                I::I32Const(1),
                I::I32Add,
                I::LocalSet(4),
                I::Br(0),
                I::End,
                I::End,
                I::LocalGet(6),
                I::LocalGet(7),
                I::LocalGet(6),
                I::I32Sub,
            ],
        );
    }
}
