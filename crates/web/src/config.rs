use std::time::Duration;

/// Settings of the HTTP layer (from flags, `ZHIFA_*` variables or the TOML file).
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// A session unused this long ends (等保: 会话超时).
    pub idle_timeout: Duration,
    /// A session ends this long after login, however active.
    pub absolute_timeout: Duration,
    /// Mark cookies `Secure` (set when served over HTTPS).
    pub secure_cookies: bool,
    /// The public origin (`https://host[:port]`) browsers see, when a reverse proxy
    /// rewrites `Host`; state changes must come from it (or from `Host`).
    pub public_origin: Option<String>,
    /// Show the demo notice on every page (`zhifa demo`: accounts and codes are fictional).
    pub demo: bool,
    /// Failed logins within `lockout_window` that lock an account.
    pub lockout_failures: i64,
    pub lockout_window: Duration,
    /// Largest accepted form or JSON body.
    pub max_body_bytes: usize,
    /// Where an administrator's 执法文书 templates override the built-in ones
    /// (`<data>/templates/{kind}.toml`).
    pub templates_dir: Option<std::path::PathBuf>,
    /// Where a 卷宗 is packed before it is sent (the data directory): on the data disk,
    /// since the system's temporary directory may be memory (tmpfs). `None`: the system's.
    pub scratch_dir: Option<std::path::PathBuf>,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            idle_timeout: Duration::from_secs(30 * 60),
            absolute_timeout: Duration::from_secs(12 * 60 * 60),
            secure_cookies: false,
            public_origin: None,
            demo: false,
            lockout_failures: 5,
            lockout_window: Duration::from_secs(15 * 60),
            max_body_bytes: 64 * 1024,
            templates_dir: None,
            scratch_dir: None,
        }
    }
}
