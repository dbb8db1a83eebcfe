//! The shipped calendar against an independent reference: PyPI `chinesecalendar` (used only
//! here), for every day of every year the data covers. Runs when `python3` can import it;
//! CI (`CI` set) installs it and requires it.

use chrono::NaiveDate;
use std::process::Command;
use zhifa_domain::calendar::Calendar;

const SCRIPT: &str = r#"
import sys, datetime
import chinese_calendar
d = datetime.date(int(sys.argv[1]), 1, 1)
end = datetime.date(int(sys.argv[2]), 12, 31)
out = []
while d <= end:
    out.append("%s %d" % (d.isoformat(), 1 if chinese_calendar.is_workday(d) else 0))
    d += datetime.timedelta(days=1)
print("\n".join(out))
"#;

#[test]
fn every_day_of_every_covered_year_matches_chinesecalendar() {
    let calendar = Calendar::mainland();
    let (first, last) = calendar.years();
    let out = Command::new("python3")
        .args(["-c", SCRIPT, &first.to_string(), &last.to_string()])
        .output();
    let reference = match out {
        Ok(o) if o.status.success() => String::from_utf8(o.stdout).unwrap(),
        other => {
            assert!(
                std::env::var("CI").is_err(),
                "CI must install the reference (pip install chinesecalendar): {other:?}"
            );
            eprintln!("python3 with chinese_calendar not available: reference check skipped");
            return;
        }
    };
    let mut days = 0;
    let mut differences = Vec::new();
    for line in reference.lines() {
        let (date, working) = line.split_once(' ').unwrap();
        let date = NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap();
        let ours = calendar.is_working_day(date).unwrap();
        if ours != (working == "1") {
            differences.push(format!("{date}: ours {ours}, reference {working}"));
        }
        days += 1;
    }
    assert_eq!(
        days,
        (NaiveDate::from_ymd_opt(last + 1, 1, 1).unwrap()
            - NaiveDate::from_ymd_opt(first, 1, 1).unwrap())
        .num_days()
    );
    assert!(differences.is_empty(), "{differences:#?}");
}
