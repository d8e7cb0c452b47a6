//! Integer money arithmetic with explicit rounding. No floats anywhere.
//!
//! Every operation is checked: an amount that would not fit in `i64` minor
//! units is never wrapped around. The plain operations (`times`,
//! `mul_ratio`, `round_to_increment`) panic with a message naming the
//! operands, which the host reports as a `trap` with that message; the
//! `checked_*` forms return `None` instead, for rules that want to decide.

use crate::{Decimal, Money};
use docket_guest_core::text::{MONEY_TEXT_MAX, write_money};

pub use docket_guest_core::money::{Rounding, div_round};

/// Rounds `value` to a multiple of `increment` (e.g. minutes to 15).
/// Panics if the result does not fit in `i64`.
pub fn round_to_increment(value: i64, increment: i64, rounding: Rounding) -> i64 {
    i64::try_from(div_round(value.into(), increment.into(), rounding) * i128::from(increment))
        .unwrap_or_else(|_| panic!("overflow: {value} rounded to a multiple of {increment}"))
}

impl Money {
    /// An amount in minor units.
    pub fn new(amount_minor: i64, currency: &str) -> Money {
        Money {
            amount_minor,
            currency: currency.to_string(),
        }
    }

    /// Zero in the currency.
    pub fn zero(currency: &str) -> Money {
        Money::new(0, currency)
    }

    /// The sum, or `None` on a currency mismatch or overflow.
    pub fn checked_add(&self, other: &Money) -> Option<Money> {
        (self.currency == other.currency).then_some(())?;
        Some(Money::new(
            self.amount_minor.checked_add(other.amount_minor)?,
            &self.currency,
        ))
    }

    /// `self * num / den`, rounded; the basis of rates, multipliers and
    /// shares. Computed exactly in i128; panics if the result does not fit
    /// in `i64` minor units (or `den` is zero).
    pub fn mul_ratio(&self, num: i64, den: i64, rounding: Rounding) -> Money {
        self.checked_mul_ratio(num, den, rounding)
            .unwrap_or_else(|| panic!("money overflow: {self} × {num} / {den}"))
    }

    /// `self * num / den`, rounded, or `None` if it does not fit in `i64`.
    /// Panics if `den` is zero.
    pub fn checked_mul_ratio(&self, num: i64, den: i64, rounding: Rounding) -> Option<Money> {
        let v = div_round(
            i128::from(self.amount_minor) * i128::from(num),
            den.into(),
            rounding,
        );
        Some(Money::new(i64::try_from(v).ok()?, &self.currency))
    }

    /// `self * quantity`; panics if it does not fit in `i64` minor units.
    pub fn times(&self, quantity: i64) -> Money {
        self.checked_times(quantity)
            .unwrap_or_else(|| panic!("money overflow: {self} × {quantity}"))
    }

    /// `self * quantity`, or `None` if it does not fit in `i64`.
    pub fn checked_times(&self, quantity: i64) -> Option<Money> {
        Some(Money::new(
            self.amount_minor.checked_mul(quantity)?,
            &self.currency,
        ))
    }

    /// A share in basis points (1/100 of a percent), rounded half-even.
    pub fn basis_points(&self, bps: u32) -> Money {
        self.mul_ratio(bps.into(), 10_000, Rounding::HalfEven)
    }

    /// Sums amounts of one currency; `None` if any currency differs or the
    /// sum does not fit in `i64`.
    pub fn sum<'a>(currency: &str, items: impl IntoIterator<Item = &'a Money>) -> Option<Money> {
        items
            .into_iter()
            .try_fold(Money::zero(currency), |acc, m| acc.checked_add(m))
    }
}

impl std::fmt::Display for Money {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut buf = [0; MONEY_TEXT_MAX];
        let at = write_money(self.amount_minor, &mut buf);
        // Only ASCII digits, sign, point and space were written.
        f.write_str(std::str::from_utf8(&buf[at..]).map_err(|_| std::fmt::Error)?)?;
        f.write_str(&self.currency)
    }
}

impl Decimal {
    /// `mantissa / 10^scale`.
    pub fn new(mantissa: i64, scale: u8) -> Decimal {
        Decimal { mantissa, scale }
    }

    /// A whole number.
    pub fn whole(value: i64) -> Decimal {
        Decimal::new(value, 0)
    }

    /// A quantity of hours from minutes, exact to 1/100 h for quarter hours.
    pub fn hours_from_minutes(minutes: i64) -> Decimal {
        Decimal::new(
            div_round(i128::from(minutes) * 100, 60, Rounding::HalfEven) as i64,
            2,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_modes() {
        assert_eq!(div_round(7, 2, Rounding::Down), 3);
        assert_eq!(div_round(7, 2, Rounding::Up), 4);
        assert_eq!(div_round(7, 2, Rounding::HalfEven), 4);
        assert_eq!(div_round(5, 2, Rounding::HalfEven), 2);
        assert_eq!(div_round(5, 2, Rounding::HalfUp), 3);
        assert_eq!(div_round(-5, 2, Rounding::HalfUp), -3);
        assert_eq!(div_round(-7, 2, Rounding::Down), -4);
        assert_eq!(round_to_increment(31, 15, Rounding::Up), 45);
        assert_eq!(round_to_increment(30, 15, Rounding::Up), 30);
    }

    #[test]
    fn money_ops() {
        let m = Money::new(12_345, "EUR");
        assert_eq!(m.mul_ratio(3, 2, Rounding::HalfEven).amount_minor, 18_518);
        assert_eq!(m.basis_points(1_000).amount_minor, 1_234);
        assert!(m.checked_add(&Money::new(1, "USD")).is_none());
        assert_eq!(m.to_string(), "123.45 EUR");
        assert_eq!(Money::new(-5, "EUR").to_string(), "-0.05 EUR");
        assert_eq!(Decimal::hours_from_minutes(45), Decimal::new(75, 2));
    }

    #[test]
    fn overflow_is_never_wrapped() {
        let max = Money::new(i64::MAX, "EUR");
        assert_eq!(max.checked_times(2), None);
        assert_eq!(max.checked_mul_ratio(3, 2, Rounding::Down), None);
        assert_eq!(
            max.checked_mul_ratio(1, 2, Rounding::Down)
                .unwrap()
                .amount_minor,
            i64::MAX / 2
        );
        assert_eq!(Money::sum("EUR", [&max, &Money::new(1, "EUR")]), None);
        let panic = std::panic::catch_unwind(|| max.times(2)).unwrap_err();
        let message = panic.downcast_ref::<String>().unwrap();
        assert!(message.starts_with("money overflow: "), "{message}");
        assert!(
            std::panic::catch_unwind(|| round_to_increment(i64::MAX, 10, Rounding::Up)).is_err()
        );
    }
}
