/// Milliseconds since the Unix epoch: the one time representation in the database.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Today in Beijing (UTC+8, no daylight saving): the day acts and credentials are judged on.
pub fn today_beijing() -> chrono::NaiveDate {
    (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive()
}
