//! Configuration: flags, then `ZHIFA_*` environment variables, then an optional TOML
//! file, then defaults — in that order of precedence.

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use zhifa_web::WebConfig;

const LONG_ABOUT: &str = "\
zhifa 执法 — 行政执法“三项制度”平台：行政执法公示、执法全过程记录、重大执法决定法制审核。
zhifa — the platform for China's administrative law-enforcement \"three systems\".

配置优先级 / precedence: 命令行参数 flags > 环境变量 ZHIFA_* > 配置文件 --config FILE (TOML) > 默认值 defaults.

配置文件示例 / example zhifa.toml:
  data = \"/var/lib/zhifa\"            # or: database_url = \"postgres://user@host/zhifa\"
  key_dir = \"/etc/zhifa/keys\"        # log signing keys (default: <data>/keys)
  addr = \"0.0.0.0:8080\"
  log_format = \"json\"                 # text | json
  idle_timeout_minutes = 30
  absolute_timeout_hours = 12
  lockout_failures = 5
  lockout_window_minutes = 15
  public_url = \"https://zhifa.example.gov.cn\"   # behind a reverse proxy
  secure_cookies = true                # when served over HTTPS

快速开始 / quick start:  zhifa demo        (then open http://127.0.0.1:8080)";

#[derive(Parser, Debug)]
#[command(name = "zhifa", version, about = "zhifa 执法 — 行政执法“三项制度”平台 / administrative law-enforcement platform", long_about = LONG_ABOUT)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone, Default)]
pub struct GlobalArgs {
    /// TOML 配置文件 / TOML configuration file
    #[arg(long, global = true, env = "ZHIFA_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// 数据目录（SQLite 与本地文件）/ data directory (SQLite database and local files)
    #[arg(long, global = true, env = "ZHIFA_DATA", value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// PostgreSQL 连接串，设置后不用 SQLite / PostgreSQL URL (instead of SQLite)
    #[arg(
        long,
        global = true,
        env = "ZHIFA_DATABASE_URL",
        value_name = "postgres://…"
    )]
    pub database_url: Option<String>,
    /// 监听地址 / listen address [default: 127.0.0.1:8080]
    #[arg(long, global = true, env = "ZHIFA_ADDR", value_name = "HOST:PORT")]
    pub addr: Option<String>,
    /// 日志格式 text|json / log format [default: text]
    #[arg(long, global = true, env = "ZHIFA_LOG_FORMAT", value_name = "FORMAT")]
    pub log_format: Option<String>,
    /// 会话空闲超时（分钟）/ session idle timeout in minutes [default: 30]
    #[arg(
        long,
        global = true,
        env = "ZHIFA_IDLE_TIMEOUT_MINUTES",
        value_name = "MIN"
    )]
    pub idle_timeout_minutes: Option<u64>,
    /// 会话绝对超时（小时）/ absolute session lifetime in hours [default: 12]
    #[arg(
        long,
        global = true,
        env = "ZHIFA_ABSOLUTE_TIMEOUT_HOURS",
        value_name = "H"
    )]
    pub absolute_timeout_hours: Option<u64>,
    /// 锁定前允许的连续失败次数 / failed logins before lockout [default: 5]
    #[arg(long, global = true, env = "ZHIFA_LOCKOUT_FAILURES", value_name = "N")]
    pub lockout_failures: Option<i64>,
    /// 统计失败次数的时间窗（分钟）/ lockout window in minutes [default: 15]
    #[arg(
        long,
        global = true,
        env = "ZHIFA_LOCKOUT_WINDOW_MINUTES",
        value_name = "MIN"
    )]
    pub lockout_window_minutes: Option<u64>,
    /// Cookie 加 Secure 标志（HTTPS 部署时开启）/ mark cookies Secure (HTTPS deployments)
    #[arg(long, global = true, env = "ZHIFA_SECURE_COOKIES", value_name = "BOOL")]
    pub secure_cookies: Option<bool>,
    /// 对外访问地址（反向代理之后必填，用于来源校验）/ public URL, e.g. https://zhifa.example.gov.cn
    /// (needed behind a reverse proxy: browsers' Origin is checked against it)
    #[arg(long, global = true, env = "ZHIFA_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
    /// 日志签名密钥目录（默认为数据目录下的 keys）/ directory of the log signing keys
    /// [default: DIR/keys with --data; none with --database-url]
    #[arg(long, global = true, env = "ZHIFA_KEY_DIR", value_name = "DIR")]
    pub key_dir: Option<PathBuf>,
    /// Where `data` and `database_url` came from (filled after parsing).
    #[arg(skip)]
    pub sources: Sources,
}

/// Whether `--data` / `--database-url` were given as flags or as environment variables,
/// so that a flag of one beats an environment variable of the other.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sources {
    pub data_from_flag: bool,
    pub url_from_flag: bool,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// 启动示例乡镇（朱堂乡），首次运行时创建 / start the demo township, created on first run
    Demo,
    /// 启动服务 / start the server (--data DIR or --database-url postgres://…)
    Serve,
    /// 新建执法主体及其第一位管理员 / create a new, empty agency and its first administrator
    Init(InitArgs),
    /// 升级数据库结构 / apply database migrations
    Migrate,
    /// 核验日志、签名树头和全部入账数据；有问题时返回非零 / verify the logs, checkpoints and every
    /// ledgered row; exits non-zero and names what failed
    Verify(VerifyArgs),
    /// 在线备份到一个文件（数据库快照、密钥目录、文书模板），写完即核验 / back up the
    /// installation, also while it serves, into one checked file (database snapshot, key
    /// directory, document templates); on PostgreSQL the key directory, to go with pg_dump
    Backup(BackupArgs),
    /// 从备份恢复到空目录或新目录（不覆盖任何文件）/ restore a backup into an empty or new
    /// directory (never over anything)
    Restore(RestoreArgs),
    /// 执法记录日志 / the tamper-evident logs
    #[command(subcommand)]
    Ledger(LedgerCommand),
    /// 见证（C2SP tlog-witness）：为其他系统的日志副署，或请见证方为本系统日志副署 /
    /// witnessing: cosign other installations' logs, or have a witness cosign ours
    #[command(subcommand)]
    Witness(WitnessCommand),
    /// 账号管理 / manage accounts
    #[command(subcommand)]
    User(UserCommand),
    /// API 令牌 / API tokens
    #[command(subcommand)]
    Token(TokenCommand),
    /// 从 Excel 导入清单（全部成功或全部不导入）/ import a list from XLSX (all rows or none)
    #[command(subcommand)]
    Import(ImportCommand),
    /// 工作日历与期限计算 / the working-day calendar and legal periods
    #[command(subcommand)]
    Calendar(CalendarCommand),
}

#[derive(Subcommand, Debug)]
pub enum CalendarCommand {
    /// 起算日后第 N 个工作日（起算日不计入）/ the Nth working day strictly after DATE
    AddWorkingDays {
        /// 起算日 / the start date, YYYY-MM-DD
        date: String,
        /// 工作日数 / working days
        days: u32,
    },
    /// 起算日后 N 日期满日（遇休息日顺延）/ the end of N calendar days after DATE, moved to
    /// the next working day when it falls on a rest day
    AddDays {
        /// 起算日 / the start date, YYYY-MM-DD
        date: String,
        /// 日数 / calendar days
        days: u32,
    },
}

#[derive(Subcommand, Debug)]
pub enum ImportCommand {
    /// 导入执法事项清单 / import the 执法事项清单 (layout: README, or export one)
    Items(ImportItemsArgs),
    /// 导入其他清单 / import another list: spot-checks | major-review | av-records
    List(ImportListArgs),
}

#[derive(Args, Debug)]
pub struct ImportListArgs {
    /// 清单 / the list: spot-checks（随机抽查事项清单）| major-review（法制审核目录清单）| av-records（音像记录事项清单）
    pub list: String,
    /// Excel 文件（.xlsx）/ the XLSX file
    pub file: std::path::PathBuf,
    /// 执法主体网址标识 / the agency's slug
    #[arg(long)]
    pub agency: String,
}

#[derive(Args, Debug)]
pub struct ImportItemsArgs {
    /// Excel 文件（.xlsx）/ the XLSX file
    pub file: std::path::PathBuf,
    /// 执法主体网址标识 / the agency's slug, e.g. zhutang
    #[arg(long)]
    pub agency: String,
}

#[derive(Args, Debug)]
pub struct InitArgs {
    /// 执法主体名称 / agency name, e.g. 朱堂乡人民政府
    #[arg(long)]
    pub agency_name: String,
    /// 网址标识 / URL slug, e.g. zhutang
    #[arg(long)]
    pub slug: String,
    /// 统一社会信用代码 / unified social credit code (GB 32100)
    #[arg(long)]
    pub credit_code: String,
    /// 主体类别 / kind: administrative_organ | authorised_organisation | entrusted_organisation
    #[arg(long, default_value = "administrative_organ")]
    pub kind: String,
    /// 执法依据 / legal source of authority
    #[arg(long)]
    pub legal_basis: String,
    /// 上级执法主体标识 / parent agency slug (a county holding this township)
    #[arg(long)]
    pub parent: Option<String>,
    /// 密码算法：guomi = 国密（SM2/SM3），international = 国际算法（Ed25519/SHA-256）；
    /// 不填则与上级相同（顶级为国际算法），创建后不能更改 / the log's cryptography: guomi
    /// (SM2/SM3) or international (Ed25519/SHA-256); default the parent's (international
    /// at the top); never changed afterwards
    #[arg(long, default_value = "")]
    pub crypto: String,
    /// 管理员用户名 / administrator user name
    #[arg(long, default_value = "admin")]
    pub admin_user: String,
    /// 管理员姓名 / administrator's name
    #[arg(long)]
    pub admin_name: String,
    /// 从标准输入读取密码 / read the password from standard input (else ZHIFA_PASSWORD)
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// 另行获得的公钥（签名说明格式），可重复 / a verifier key obtained out of band
    /// (signed-note form); repeatable. Checkpoints of its log must carry its signature.
    #[arg(long = "trusted-key", value_name = "VKEY")]
    pub trusted_keys: Vec<String>,
    /// 另行获得的签名树头文件（如见证方、门户或法院存档的），可重复；日志须包含它 / a checkpoint
    /// obtained elsewhere (a witness's, the portal's, one filed with a court); repeatable:
    /// the log must contain it
    #[arg(long = "trusted-checkpoint", value_name = "FILE")]
    pub trusted_checkpoints: Vec<PathBuf>,
    /// 见证方公钥（cosignature/v1），可重复：各日志须有其副署，且副署的树头须在日志中 / a
    /// witness's cosignature key, repeatable: every log must carry its cosignature, and the
    /// log must contain every checkpoint it cosigned
    #[arg(long = "witness", value_name = "VKEY")]
    pub witnesses: Vec<String>,
    /// 向见证方（监测地址）取其最新副署的树头核验，不依赖本数据库中的副署；须同时给出 --witness /
    /// also fetch each log's newest cosigned checkpoint from the witness itself (its
    /// monitoring prefix), so that a database put back with its cosignatures is caught
    #[arg(long = "witness-url", value_name = "URL", requires = "witnesses")]
    pub witness_url: Option<String>,
    /// 核验导出的日志包（无需数据库）/ verify an exported log bundle, with no database
    #[arg(long, value_name = "FILE")]
    pub bundle: Option<PathBuf>,
    /// 核验案件卷宗 ZIP（无需数据库）：文书和证据文件与日志记录一致，记录在签名树头中 /
    /// verify a case archive (卷宗 ZIP) with no database
    #[arg(long, value_name = "FILE", conflicts_with = "bundle")]
    pub archive: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct BackupArgs {
    /// 备份文件 / the backup file to write (e.g. zhifa-2026-03-01.zip)
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// zhifa backup 写出的备份文件 / a file written by zhifa backup
    pub file: PathBuf,
}

#[derive(Subcommand, Debug)]
pub enum WitnessCommand {
    /// 本系统作为见证方的公钥（首次使用时以 --name 创建）/ this installation's witness key,
    /// created on first use with --name (e.g. county.example/witness)
    Key {
        /// 见证方名称（仅创建时需要）/ the witness's name (only when creating the key)
        #[arg(long)]
        name: Option<String>,
    },
    /// 为一个日志副署：登记其公钥（名称即日志的 origin）/ witness a log: trust its public key
    Trust {
        /// 日志公钥，取自其门户 /log/<主体>/key / the log's verifier key
        #[arg(long)]
        key: String,
        /// 运行该日志的机关（门户显示）/ who runs the log (shown on the portal)
        #[arg(long)]
        name: String,
    },
    /// 忘记已为某日志副署的树头，从头见证（冲突记录保留）；须加 --confirm / forget what was
    /// cosigned for a log and start afresh (conflicts stay on record); needs --confirm
    Reset {
        /// 日志的 origin / the log's origin
        origin: String,
        #[arg(long)]
        confirm: bool,
    },
    /// 请一个见证方为本系统的日志副署 / have a witness cosign this installation's logs
    Use {
        /// 见证方的 cosignature/v1 公钥 / the witness's cosignature key
        #[arg(long)]
        key: String,
        /// 见证方的提交地址（其下有 /add-checkpoint）/ the witness's submission prefix
        #[arg(long)]
        url: String,
    },
    /// 不再请某见证方副署 / stop asking a witness
    Drop {
        /// 见证方名称 / the witness's name
        name: String,
    },
    /// 列出见证关系与最近的副署、冲突 / list witnessing, newest cosignatures and conflicts
    List,
    /// 立即请各见证方副署 / ask every witness now
    Submit,
}

#[derive(Subcommand, Debug)]
pub enum LedgerCommand {
    /// 列出各日志及其公钥 / list the logs with their size and keys
    List,
    /// 更换日志签名密钥（旧树头仍可核验）/ rotate a log's signing key (old checkpoints stay verifiable)
    RotateKey {
        /// 执法主体标识，或 _system / agency slug, or _system for the installation's log
        #[arg(long)]
        agency: String,
    },
    /// 立即为增长的日志签发树头 / sign checkpoints now for logs that grew
    Checkpoint,
    /// 接受日志短于已签名记录的事实（如恢复了较旧的备份）：逐一列出丢失的已签名记录，记入系统日志，
    /// 并让签名从当前日志继续。须加 --confirm / accept that the logs are behind what was
    /// signed (an older backup restored): names the signed entries lost, records the act in
    /// the installation's log, and lets signing resume from the logs as they are
    Rebase {
        /// 确认接受损失（不加时只列出）/ accept the loss (without it, only list it)
        #[arg(long)]
        confirm: bool,
        /// 操作人（记入日志）/ who accepts it, for the record
        #[arg(long, value_name = "NAME")]
        by: Option<String>,
    },
    /// 导出日志包（记录、瓦片、签名树头、公钥），可离线核验 / export a log as a self-contained
    /// bundle (entries, tiles, checkpoints, keys) for offline verification
    Export {
        /// 执法主体标识，或 _system / agency slug, or _system
        #[arg(long)]
        agency: String,
        /// 输出文件 / output file
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// 新建账号 / add an account
    Add {
        /// 执法主体标识 / agency slug
        #[arg(long)]
        agency: String,
        /// 用户名 / user name
        #[arg(long)]
        username: String,
        /// 姓名 / display name
        #[arg(long)]
        name: String,
        /// 角色，逗号分隔 / roles, comma-separated:
        /// admin,officer,department_head,legal_reviewer,leader,supervisor
        #[arg(long, value_delimiter = ',')]
        roles: Vec<String>,
        /// 从标准输入读取密码 / read the password from standard input (else ZHIFA_PASSWORD)
        #[arg(long)]
        password_stdin: bool,
    },
    /// 修改密码 / set a password
    Passwd {
        username: String,
        /// 从标准输入读取密码 / read the password from standard input (else ZHIFA_PASSWORD)
        #[arg(long)]
        password_stdin: bool,
    },
    /// 列出账号 / list accounts
    List {
        /// 只列出该执法主体 / only this agency (slug)
        #[arg(long)]
        agency: Option<String>,
    },
    /// 解除登录锁定 / lift a lockout after failed logins
    Unlock { username: String },
    /// 停用账号（--enable 重新启用）/ disable an account (--enable to re-enable)
    Disable {
        username: String,
        #[arg(long)]
        enable: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// 创建 API 令牌，只显示一次 / create an API token, shown once
    Create {
        /// 令牌所属用户 / the token's user
        #[arg(long)]
        user: String,
        /// 用途说明 / label
        #[arg(long, default_value = "api")]
        name: String,
        /// 有效期（天，1–365，默认 90）/ days until it expires (1–365, default 90)
        #[arg(long, default_value = "")]
        days: String,
        /// 只读：只能读取，不能修改 / read-only: may read, never change
        #[arg(long)]
        read_only: bool,
    },
    /// 列出令牌（不显示令牌本身）/ list tokens (never the secrets)
    List,
    /// 吊销令牌 / revoke a token by its id
    Revoke { id: i64 },
}

/// Keys of the TOML file (all optional).
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub data: Option<PathBuf>,
    pub database_url: Option<String>,
    pub addr: Option<String>,
    pub log_format: Option<String>,
    pub idle_timeout_minutes: Option<u64>,
    pub absolute_timeout_hours: Option<u64>,
    pub lockout_failures: Option<i64>,
    pub lockout_window_minutes: Option<u64>,
    pub secure_cookies: Option<bool>,
    pub public_url: Option<String>,
    pub key_dir: Option<PathBuf>,
}

/// Where the data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    DataDir(PathBuf),
    Url(String),
}

/// The resolved settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub database: Option<Database>,
    /// Where this node keeps log signing keys (`None`: this node signs nothing).
    pub key_dir: Option<PathBuf>,
    pub addr: SocketAddr,
    pub json_logs: bool,
    pub web: WebConfig,
}

impl Cli {
    pub fn parse_args() -> Cli {
        use clap::{CommandFactory, FromArgMatches, parser::ValueSource};
        let matches = Cli::command().get_matches();
        let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
        let flag = |id: &str| matches.value_source(id) == Some(ValueSource::CommandLine);
        cli.global.sources = Sources {
            data_from_flag: flag("data"),
            url_from_flag: flag("database_url"),
        };
        cli
    }
}

fn read_file_config(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "无法读取配置文件 / cannot read config file {}",
            path.display()
        )
    })?;
    toml::from_str(&text)
        .with_context(|| format!("配置文件格式错误 / invalid config file {}", path.display()))
}

impl GlobalArgs {
    /// Merges flags/environment (already merged by clap) over the file over defaults.
    pub fn resolve(&self) -> anyhow::Result<Settings> {
        let file = match &self.config {
            Some(p) => read_file_config(p)?,
            None => FileConfig::default(),
        };
        // Per layer (flags, then environment, then file): the first layer that names a
        // database decides; naming both in one layer is an error.
        let src = self.sources;
        let flag_layer = (
            self.data.clone().filter(|_| src.data_from_flag),
            self.database_url.clone().filter(|_| src.url_from_flag),
        );
        let env_layer = (
            self.data.clone().filter(|_| !src.data_from_flag),
            self.database_url.clone().filter(|_| !src.url_from_flag),
        );
        let file_layer = (file.data, file.database_url);
        let mut database = None;
        for (data, url) in [flag_layer, env_layer, file_layer] {
            let url = url.filter(|u| !u.trim().is_empty());
            match (data, url) {
                (Some(_), Some(_)) => bail!(
                    "不能同时指定数据目录和数据库连接串 / give either a data directory or a database URL, not both"
                ),
                (Some(d), None) => database = Some(Database::DataDir(d)),
                (None, Some(u)) => {
                    if !(u.starts_with("postgres://") || u.starts_with("postgresql://")) {
                        bail!(
                            "数据库连接串应以 postgres:// 开头 / database URL must start with postgres://"
                        );
                    }
                    database = Some(Database::Url(u));
                }
                (None, None) => continue,
            }
            break;
        }
        let addr_text = self
            .addr
            .clone()
            .or(file.addr)
            .unwrap_or_else(|| "127.0.0.1:8080".into());
        let addr: SocketAddr = addr_text.parse().with_context(|| {
            format!(
                "监听地址格式应为 HOST:PORT / listen address must be HOST:PORT, got {addr_text}"
            )
        })?;
        let log_format = self
            .log_format
            .clone()
            .or(file.log_format)
            .unwrap_or_else(|| "text".into());
        let json_logs = match log_format.as_str() {
            "text" => false,
            "json" => true,
            other => {
                bail!("日志格式只能是 text 或 json / log format must be text or json, got {other}")
            }
        };
        let public_url = self.public_url.clone().or(file.public_url);
        let public_origin = match &public_url {
            Some(u) => {
                let trimmed = u.trim().trim_end_matches('/');
                let host = trimmed
                    .strip_prefix("https://")
                    .or_else(|| trimmed.strip_prefix("http://"))
                    .filter(|h| !h.is_empty() && !h.contains('/'));
                if host.is_none() {
                    bail!(
                        "对外访问地址应形如 https://zhifa.example.gov.cn / public URL must look like https://host[:port]"
                    );
                }
                Some(trimmed.to_owned())
            }
            None => None,
        };
        let d = WebConfig::default();
        let minutes = |m: u64| Duration::from_secs(m * 60);
        let web = WebConfig {
            idle_timeout: self
                .idle_timeout_minutes
                .or(file.idle_timeout_minutes)
                .map(minutes)
                .unwrap_or(d.idle_timeout),
            absolute_timeout: self
                .absolute_timeout_hours
                .or(file.absolute_timeout_hours)
                .map(|h| Duration::from_secs(h * 3600))
                .unwrap_or(d.absolute_timeout),
            secure_cookies: self
                .secure_cookies
                .or(file.secure_cookies)
                .unwrap_or_else(|| {
                    public_origin
                        .as_deref()
                        .is_some_and(|o| o.starts_with("https://"))
                }),
            public_origin,
            lockout_failures: self
                .lockout_failures
                .or(file.lockout_failures)
                .unwrap_or(d.lockout_failures),
            lockout_window: self
                .lockout_window_minutes
                .or(file.lockout_window_minutes)
                .map(minutes)
                .unwrap_or(d.lockout_window),
            max_body_bytes: d.max_body_bytes,
            demo: false,
            templates_dir: match &database {
                Some(Database::DataDir(d)) => Some(d.join("templates")),
                _ => None,
            },
            scratch_dir: match &database {
                Some(Database::DataDir(d)) => Some(d.clone()),
                _ => None,
            },
        };
        if web.idle_timeout.is_zero() || web.absolute_timeout < web.idle_timeout {
            bail!("会话超时设置无效 / invalid session timeouts");
        }
        if web.lockout_failures < 1 {
            bail!("锁定次数至少为 1 / lockout_failures must be at least 1");
        }
        let key_dir = self
            .key_dir
            .clone()
            .or(file.key_dir)
            .or_else(|| match &database {
                Some(Database::DataDir(d)) => Some(d.join("keys")),
                _ => None,
            });
        Ok(Settings {
            key_dir,
            database,
            addr,
            json_logs,
            web,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_beat_file_and_file_beats_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("zhifa.toml");
        std::fs::write(
            &path,
            "addr = \"0.0.0.0:9000\"\nidle_timeout_minutes = 10\ndata = \"/from/file\"\n",
        )
        .unwrap();
        let args = GlobalArgs {
            config: Some(path),
            addr: Some("127.0.0.1:7000".into()),
            ..Default::default()
        };
        let s = args.resolve().unwrap();
        assert_eq!(s.addr.to_string(), "127.0.0.1:7000");
        assert_eq!(s.web.idle_timeout, Duration::from_secs(600));
        assert_eq!(s.database, Some(Database::DataDir("/from/file".into())));
        assert_eq!(s.web.lockout_failures, 5);
    }

    #[test]
    fn a_data_flag_beats_a_database_url_from_the_environment() {
        let args = GlobalArgs {
            data: Some("/from/flag".into()),
            database_url: Some("postgres://env/db".into()),
            sources: Sources {
                data_from_flag: true,
                url_from_flag: false,
            },
            ..Default::default()
        };
        assert_eq!(
            args.resolve().unwrap().database,
            Some(Database::DataDir("/from/flag".into()))
        );
        let both = GlobalArgs {
            sources: Sources {
                data_from_flag: true,
                url_from_flag: true,
            },
            ..args
        };
        assert!(both.resolve().is_err());
    }

    #[test]
    fn unknown_file_keys_and_bad_values_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("zhifa.toml");
        std::fs::write(&path, "adr = \"x\"\n").unwrap();
        let args = GlobalArgs {
            config: Some(path),
            ..Default::default()
        };
        assert!(args.resolve().is_err());
        let args = GlobalArgs {
            addr: Some("not an address".into()),
            ..Default::default()
        };
        assert!(
            args.resolve()
                .unwrap_err()
                .to_string()
                .contains("HOST:PORT")
        );
    }

    #[test]
    fn help_is_bilingual() {
        use clap::CommandFactory;
        let help = Cli::command().render_long_help().to_string();
        assert!(help.contains("数据目录") && help.contains("data directory"));
        assert!(help.contains("ZHIFA_DATA"));
    }
}
