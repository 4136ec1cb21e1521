//! The extension plan of a personality: which `To` users "exist" (REGISTER gets a challenge
//! rather than a `404`), as inclusive ranges of numbers.

use super::{MAX_PLAN_ENTRIES, PersonalityError};

/// Inclusive ranges of numeric extensions that "exist" (REGISTER gets a challenge, not a 404).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionPlan {
    ranges: Vec<(u64, u64)>,
}

impl ExtensionPlan {
    /// Parses entries such as `"100-199"` or `"1000"`.
    ///
    /// # Errors
    /// [`PersonalityError::BadExtension`] for an entry that is not a number or an ascending range;
    /// [`PersonalityError::BadValue`] for an empty or too long plan.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, PersonalityError> {
        if entries.is_empty() || entries.len() > MAX_PLAN_ENTRIES {
            return Err(PersonalityError::BadValue {
                key: "extensions",
                reason: format!("needs 1 to {MAX_PLAN_ENTRIES} entries"),
            });
        }
        let ranges = entries
            .iter()
            .map(|entry| parse_plan_entry(entry.as_ref()))
            .collect::<Result<_, _>>()?;
        Ok(Self { ranges })
    }

    /// Whether a user part (the `To` user of a REGISTER) is an extension of the plan: decimal
    /// digits only, written without leading zeros, inside one of the ranges.
    pub fn contains(&self, user: &[u8]) -> bool {
        let Some(number) = canonical_number(user) else {
            return false;
        };
        self.ranges
            .iter()
            .any(|&(low, high)| (low..=high).contains(&number))
    }

    /// The extension as a number, when it is in the plan.
    pub fn lookup(&self, user: &[u8]) -> Option<u64> {
        canonical_number(user).filter(|_| self.contains(user))
    }
}

/// A user part as a number: 1 to 19 decimal digits, no leading zero (except `0` itself).
fn canonical_number(user: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(user).ok()?;
    let valid = !text.is_empty()
        && text.len() <= 19
        && text.bytes().all(|byte| byte.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    if valid { text.parse().ok() } else { None }
}

fn parse_plan_entry(entry: &str) -> Result<(u64, u64), PersonalityError> {
    let bad = |reason| PersonalityError::BadExtension {
        entry: entry.to_owned(),
        reason,
    };
    let number = |text: &str| canonical_number(text.trim().as_bytes());
    match entry.split_once('-') {
        None => {
            let single = number(entry).ok_or(bad("not a number without leading zeros"))?;
            Ok((single, single))
        }
        Some((low, high)) => {
            let low = number(low).ok_or(bad("range start is not a number"))?;
            let high = number(high).ok_or(bad("range end is not a number"))?;
            if low > high {
                return Err(bad("range start is after its end"));
            }
            Ok((low, high))
        }
    }
}

/// The default extension plan: 100–199 and a few numbers scanners try first.
pub(super) fn default_plan() -> ExtensionPlan {
    ExtensionPlan {
        ranges: vec![
            (100, 199),
            (200, 201),
            (300, 300),
            (1000, 1000),
            (2000, 2000),
        ],
    }
}
