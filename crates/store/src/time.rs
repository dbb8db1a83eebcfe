/// Milliseconds since the Unix epoch: the one time representation in the database.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
