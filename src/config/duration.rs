//! Durations as operators write them in flags, variables and TOML: `90s`, `30m`, `24h`, `7d`, `2w`.

use jiff::SignedDuration;

/// `90s`, `30m`, `24h`, `7d`, `2w`; `None` for anything else (no sign, no fraction, no overflow).
pub fn parse_duration(text: &str) -> Option<SignedDuration> {
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let count: i64 = number.parse().ok()?;
    let seconds_per_unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return None,
    };
    count
        .checked_mul(seconds_per_unit)
        .map(SignedDuration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_from_seconds_to_weeks_and_nothing_else() {
        assert_eq!(parse_duration("90s"), Some(SignedDuration::from_secs(90)));
        assert_eq!(parse_duration("30m"), Some(SignedDuration::from_mins(30)));
        assert_eq!(parse_duration("24h"), Some(SignedDuration::from_hours(24)));
        assert_eq!(parse_duration("7d"), Some(SignedDuration::from_hours(168)));
        assert_eq!(parse_duration("2w"), Some(SignedDuration::from_hours(336)));
        for bad in [
            "",
            "h",
            "24",
            "24x",
            "-1h",
            "1.5h",
            "99999999999999999999d",
            "1 h",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }
}
