//! Integer division with explicit rounding: the basis of every rate,
//! multiplier and share. No floats.

use core::cmp::Ordering;

/// How a division rounds. The discriminants are the no-code runtime's
/// rounding codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Rounding {
    /// Towards positive infinity.
    Up = 0,
    /// Towards negative infinity.
    Down = 1,
    /// To the nearest, ties to even (banker's rounding).
    HalfEven = 2,
    /// To the nearest, ties away from zero.
    HalfUp = 3,
}

impl Rounding {
    /// The rounding with code `code` (its discriminant), if there is one.
    pub const fn from_code(code: u32) -> Option<Rounding> {
        match code {
            0 => Some(Rounding::Up),
            1 => Some(Rounding::Down),
            2 => Some(Rounding::HalfEven),
            3 => Some(Rounding::HalfUp),
            _ => None,
        }
    }
}

/// `num / den` rounded as asked. Panics if `den` is zero.
pub fn div_round(num: i128, den: i128, rounding: Rounding) -> i128 {
    assert!(den != 0, "division by zero");
    let (num, den) = if den < 0 { (-num, -den) } else { (num, den) };
    let q = num.div_euclid(den);
    let r = num.rem_euclid(den);
    if r == 0 {
        return q;
    }
    match rounding {
        Rounding::Down => q,
        Rounding::Up => q + 1,
        Rounding::HalfEven | Rounding::HalfUp => match (2 * r).cmp(&den) {
            Ordering::Less => q,
            Ordering::Greater => q + 1,
            Ordering::Equal => {
                let up = match rounding {
                    Rounding::HalfEven => q % 2 != 0,
                    _ => q >= 0,
                };
                q + i128::from(up)
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_each_way() {
        let r = |n, d, m| div_round(n, d, m);
        assert_eq!(r(7, 2, Rounding::Up), 4);
        assert_eq!(r(7, 2, Rounding::Down), 3);
        assert_eq!(r(5, 2, Rounding::HalfEven), 2);
        assert_eq!(r(7, 2, Rounding::HalfEven), 4);
        assert_eq!(r(5, 2, Rounding::HalfUp), 3);
        assert_eq!(r(-5, 2, Rounding::HalfUp), -3);
        assert_eq!(r(-7, 2, Rounding::Down), -4);
        assert_eq!(r(7, -2, Rounding::Up), -3);
        for code in 0..4 {
            assert_eq!(Rounding::from_code(code).map(|m| m as u32), Some(code));
        }
        assert_eq!(Rounding::from_code(4), None);
    }
}
