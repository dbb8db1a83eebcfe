//! The commands.

use crate::config::{CalendarCommand, ImportCommand, ImportItemsArgs, ImportListArgs};
use crate::config::{
    Cli, Command, Database, InitArgs, LedgerCommand, Settings, TokenCommand, UserCommand,
    VerifyArgs,
};
use crate::{demo, server};
use anyhow::{Context, anyhow, bail};
use std::io::BufRead;
use std::path::PathBuf;
use std::time::Instant;
use zhifa_domain::org::AgencyInput;
use zhifa_domain::{NewAgency, Password, Role, Username};
use zhifa_store::accounts::new_secret;
use zhifa_store::keys::KeyStore;
use zhifa_store::{Actor, Store, StoreError, password};

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = cli.global.resolve()?;
    init_logging(settings.json_logs);
    match cli.command {
        Command::Demo => demo_command(settings).await,
        Command::Serve => serve_command(settings).await,
        Command::Init(args) => init_command(settings, args).await,
        Command::Migrate => {
            let store = open(&settings).await?;
            let applied = store.migrate().await?;
            if applied.is_empty() {
                println!("数据库已是最新 / database is up to date");
            } else {
                println!("已升级 / applied migrations: {applied:?}");
            }
            Ok(())
        }
        Command::Verify(args) => verify_command(settings, args).await,
        Command::Backup(args) => crate::backup::run(&settings, &args.out).await,
        Command::Restore(args) => crate::restore::run(&settings, &args.file).await,
        Command::Ledger(cmd) => ledger_command(settings, cmd).await,
        Command::Witness(cmd) => {
            let store = open(&settings).await?;
            let keys = key_store(&settings)?;
            crate::witnessing::command(store, keys, cmd).await
        }
        Command::User(cmd) => user_command(settings, cmd).await,
        Command::Token(cmd) => token_command(settings, cmd).await,
        Command::Import(ImportCommand::Items(args)) => import_items_command(settings, args).await,
        Command::Import(ImportCommand::List(args)) => import_list_command(settings, args).await,
        Command::Calendar(cmd) => calendar_command(settings, cmd).await,
    }
}

/// `zhifa calendar …`: the shipped calendar (data/calendar/mainland.toml), with the years
/// an administrator added when a database is named (`--data` or `--database-url`).
async fn calendar_command(settings: Settings, cmd: CalendarCommand) -> anyhow::Result<()> {
    let calendar = match &settings.database {
        Some(_) => open(&settings).await?.calendar().await?,
        None => std::sync::Arc::new(zhifa_domain::calendar::Calendar::mainland()),
    };
    let date = |s: &str| {
        chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
            .map_err(|_| anyhow!("日期应为 YYYY-MM-DD / the date must be YYYY-MM-DD: {s}"))
    };
    let result = match cmd {
        CalendarCommand::AddWorkingDays { date: d, days } => {
            calendar.add_working_days(date(&d)?, days)
        }
        CalendarCommand::AddDays { date: d, days } => calendar.add_days(date(&d)?, days),
    };
    match result {
        Ok(d) => {
            println!("{d}");
            Ok(())
        }
        Err(e) => bail!("{e}"),
    }
}

/// A store's refusal of an imported row as (field, message).
fn refusal_parts(error: &StoreError) -> (String, String) {
    match error {
        StoreError::Invalid(f) => f
            .iter()
            .next()
            .map(|e| (e.field.clone(), e.message.clone()))
            .unwrap_or_default(),
        other => (String::new(), other.to_string()),
    }
}

/// `zhifa import list LIST FILE --agency SLUG`: like `import items`, for the other lists.
async fn import_list_command(settings: Settings, args: ImportListArgs) -> anyhow::Result<()> {
    use zhifa_domain::lists::ListKind;
    let kind = ListKind::from_code(&args.list).ok_or_else(|| {
        anyhow!(
            "没有清单 / no list {}: spot-checks | major-review | av-records",
            args.list
        )
    })?;
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("无法读取 / cannot read {}", args.file.display()))?;
    let store = open(&settings).await?;
    let agency = match store.agency_by_slug(&args.agency).await {
        Ok(a) => a,
        Err(StoreError::NotFound) => bail!("没有执法主体 / no agency {}", args.agency),
        Err(e) => return Err(e.into()),
    };
    let rows = match zhifa_sheets::read_list(kind, &bytes) {
        Ok(rows) => rows,
        Err(errors) => {
            for e in &errors {
                println!("错误 / ERROR: {e}");
            }
            bail!(
                "未导入：{} 处问题 / nothing imported: {} problems",
                errors.len(),
                errors.len()
            );
        }
    };
    match store
        .import_list(Actor::System("import"), agency.id, kind, &rows)
        .await
    {
        Ok(s) => {
            println!(
                "已导入{} / imported: {} 条新增 new, {} 条替换 replaced",
                kind.label(),
                s.created,
                s.updated
            );
            Ok(())
        }
        Err(zhifa_store::catalog::ImportError::Row { row, error }) => {
            let (field, message) = refusal_parts(&error);
            println!(
                "错误 / ERROR: {}",
                zhifa_sheets::list_row_error(kind, row, &field, message)
            );
            bail!("未导入 / nothing imported")
        }
        Err(zhifa_store::catalog::ImportError::Store(e)) => Err(e.into()),
    }
}

/// `zhifa import items FILE --agency SLUG`: every row is checked first; any problem is
/// printed with its sheet, row and column, and nothing is imported.
async fn import_items_command(settings: Settings, args: ImportItemsArgs) -> anyhow::Result<()> {
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("无法读取 / cannot read {}", args.file.display()))?;
    let store = open(&settings).await?;
    let agency = match store.agency_by_slug(&args.agency).await {
        Ok(a) => a,
        Err(StoreError::NotFound) => bail!("没有执法主体 / no agency {}", args.agency),
        Err(e) => return Err(e.into()),
    };
    let started = Instant::now();
    let rows = match zhifa_sheets::read_items(&bytes) {
        Ok(rows) => rows,
        Err(errors) => {
            for e in &errors {
                println!("错误 / ERROR: {e}");
            }
            bail!(
                "未导入：{} 处问题 / nothing imported: {} problems",
                errors.len(),
                errors.len()
            );
        }
    };
    let rows: Vec<_> = rows.into_iter().map(|r| (r.row, r.version)).collect();
    match store
        .import_items(Actor::System("import"), agency.id, &rows)
        .await
    {
        Ok(s) => {
            println!(
                "已导入 / imported: {} 个新事项 new items, {} 个新版本 new versions ({} ms)",
                s.items_created,
                s.versions_added,
                started.elapsed().as_millis()
            );
            Ok(())
        }
        Err(zhifa_store::catalog::ImportError::Row { row, error }) => {
            let (field, message) = refusal_parts(&error);
            println!(
                "错误 / ERROR: {}",
                zhifa_sheets::row_error(row, &field, message)
            );
            bail!("未导入 / nothing imported")
        }
        Err(zhifa_store::catalog::ImportError::Store(e)) => Err(e.into()),
    }
}

fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ZHIFA_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// Opens the configured database and brings its schema up to date.
async fn open(settings: &Settings) -> anyhow::Result<Store> {
    open_with(settings, true).await
}

/// Opens the database; `create_key`: create the entry-authentication key when the key
/// directory has none (never for `verify`, which must not invent the key it checks with).
async fn open_with(settings: &Settings, create_key: bool) -> anyhow::Result<Store> {
    let store = match &settings.database {
        Some(Database::DataDir(dir)) => Store::open_data_dir(dir).await,
        Some(Database::Url(url)) => Store::connect(url).await,
        None => bail!(
            "请用 --data DIR 指定数据目录，或用 --database-url 指定 PostgreSQL\n\
             use --data DIR (SQLite) or --database-url postgres://… (PostgreSQL)"
        ),
    }
    .map_err(|e| match e {
        StoreError::DataDirNotWritable(m) => {
            anyhow!("数据目录不可写 / data directory is not writable: {m}")
        }
        other => anyhow!("无法打开数据库 / cannot open the database: {other}"),
    })?;
    store
        .migrate()
        .await
        .context("数据库升级失败 / migration failed")?;
    // Every entry this node writes is authenticated with the installation's key, which
    // lives in the key directory beside the signing keys.
    let Some(keys) = key_store(settings)? else {
        return Ok(store);
    };
    // A command writes no record into logs that are behind what was signed (`rollback.rs`).
    let unmet = store.rollback_findings(&keys).await?;
    store.set_halted(
        zhifa_store::health::Concern::Rollback,
        unmet.iter().map(|u| u.to_string()).collect(),
    );
    let existed = keys.has_entry_key();
    if !existed && !create_key {
        bail!(
            "密钥目录中没有条目认证密钥（entry-authentication.key），无法核对条目；请指定本系统实际使用的 --key-dir\n\
             the key directory has no entry-authentication key: give the --key-dir this installation uses"
        );
    }
    let key = keys.entry_key().map_err(|e| {
        anyhow!("无法读取条目认证密钥 / cannot read the entry-authentication key: {e}")
    })?;
    if !existed {
        // Entries written before this key existed have no code; record where they end,
        // beside the key, so that no one can later claim more of them.
        let sizes = store
            .log_heads()
            .await?
            .into_iter()
            .map(|h| (h.origin, h.size))
            .collect();
        keys.record_entry_legacy(&sizes)?;
    }
    Ok(store
        .with_entry_key(key)
        .with_entry_legacy(keys.entry_legacy()?))
}

/// The key store of this node, if it has one.
fn key_store(settings: &Settings) -> anyhow::Result<Option<KeyStore>> {
    settings
        .key_dir
        .as_deref()
        .map(|d| {
            KeyStore::open(d)
                .map_err(|e| anyhow!("无法打开密钥目录 / cannot open the key directory: {e}"))
        })
        .transpose()
}

/// "通过" and exit 0, or every failure named and a non-zero exit.
fn outcome(failures: &[String]) -> anyhow::Result<()> {
    if failures.is_empty() {
        println!("通过 / OK");
        return Ok(());
    }
    for f in failures {
        println!("失败 / FAILED: {f}");
    }
    bail!(
        "核验未通过 / verification failed: {} problems",
        failures.len()
    )
}

fn verify_bundle(path: &std::path::Path, trusted: &[String]) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("无法读取日志包 / cannot read {}", path.display()))?;
    let bundle: zhifa_ledger::bundle::Bundle = serde_json::from_str(&text)
        .with_context(|| format!("日志包格式错误 / not a log bundle: {}", path.display()))?;
    let report = zhifa_ledger::bundle::verify(&bundle, trusted);
    println!(
        "核验日志包 / bundle {}: {} 条记录 entries, {} 个签名树头 checkpoints, {} 个瓦片 tiles",
        bundle.origin, report.entries, report.checkpoints, report.tiles
    );
    outcome(&report.failures)
}

/// Reads a 卷宗 ZIP: every file by name (a name twice is refused — a viewer would show
/// one and a verifier could check the other), with a bound on what is unpacked.
fn read_archive(
    path: &std::path::Path,
) -> anyhow::Result<std::collections::BTreeMap<String, Vec<u8>>> {
    use std::io::Read;
    const MAX_TOTAL: u64 = 4 << 30;
    let f = std::fs::File::open(path)
        .with_context(|| format!("无法读取卷宗 / cannot read {}", path.display()))?;
    let mut zip = zip::ZipArchive::new(f)
        .with_context(|| format!("不是 ZIP 文件 / not a ZIP file: {}", path.display()))?;
    let mut files = std::collections::BTreeMap::new();
    let mut total = 0u64;
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i)?;
        if entry.is_dir() {
            continue;
        }
        let name = entry
            .name()
            .map_err(|e| anyhow!("卷宗中的文件名无效 / bad file name: {e}"))?
            .to_string();
        let mut bytes = Vec::new();
        (&mut entry)
            .take(MAX_TOTAL - total + 1)
            .read_to_end(&mut bytes)
            .with_context(|| format!("无法解压 / cannot unpack {name}"))?;
        total += bytes.len() as u64;
        if total > MAX_TOTAL {
            bail!("卷宗解压后超过 4 GB / archive unpacks to more than 4 GB");
        }
        if files.insert(name.clone(), bytes).is_some() {
            bail!("卷宗中有重名文件 / the archive holds {name} twice");
        }
    }
    Ok(files)
}

fn verify_archive(path: &std::path::Path, trusted: &[String]) -> anyhow::Result<()> {
    use zhifa_ledger::proofs::{ARCHIVE_PATH, EntryProofs, verify};
    let mut files = read_archive(path)?;
    let proofs = files
        .remove(ARCHIVE_PATH)
        .ok_or_else(|| anyhow!("卷宗中没有 {ARCHIVE_PATH} / no proofs in the archive"))?;
    let proofs: EntryProofs = serde_json::from_slice(&proofs)
        .with_context(|| format!("{ARCHIVE_PATH} 格式错误 / malformed proofs"))?;
    let report = verify(&proofs, &files, trusted);
    println!(
        "核验卷宗 / archive {}: 日志 {} 中 {} 条记录 entries, {} 个文件 files, 签名树头大小 checkpoint size {}",
        path.display(),
        proofs.origin,
        report.entries,
        report.files,
        report.checkpoint_size
    );
    if trusted.is_empty() {
        println!(
            "注意 / note: 未提供 --trusted-key，签名以卷宗自带的公钥核验；请与机关门户公布的公钥比对 / checked with the archive's own keys"
        );
    }
    if report.erased > 0 {
        println!(
            "{} 条记录的内容已去标识化，仅核验其在日志中 / {} entries erased, inclusion only",
            report.erased, report.erased
        );
    }
    outcome(&report.failures)
}

/// A checkpoint from a file, its signature checked with `--trusted-key` or, failing that,
/// with the keys its log publishes.
async fn trusted_checkpoint(
    store: &Store,
    path: &std::path::Path,
    trusted: &[String],
) -> anyhow::Result<zhifa_store::rollback::SignedHead> {
    use zhifa_ledger::note::{Checkpoint, NoteVerifier, open};
    let note = std::fs::read_to_string(path)
        .with_context(|| format!("无法读取树头文件 / cannot read {}", path.display()))?;
    let origin = note.lines().next().unwrap_or_default().to_owned();
    let mut keys: Vec<String> = trusted.to_vec();
    if keys.is_empty() {
        let name = origin.strip_prefix("zhifa/").unwrap_or_default();
        if let Ok(log_id) = store.log_id_by_name(name).await {
            keys = store
                .log_keys(log_id)
                .await?
                .into_iter()
                .map(|(k, _)| k)
                .collect();
        }
    }
    let verifiers: Vec<NoteVerifier> = keys
        .iter()
        .filter_map(|k| NoteVerifier::parse(k).ok())
        .collect();
    let (text, _) = open(&note, &verifiers).map_err(|e| {
        anyhow!(
            "树头文件签名无效 / the checkpoint in {} is not validly signed: {e}",
            path.display()
        )
    })?;
    let cp = Checkpoint::parse(text).map_err(|e| {
        anyhow!(
            "树头文件格式错误 / malformed checkpoint {}: {e}",
            path.display()
        )
    })?;
    Ok(zhifa_store::rollback::SignedHead {
        origin: cp.origin,
        size: cp.size,
        root: cp.root,
        source: format!("可信树头 / trusted checkpoint {}", path.display()),
    })
}

async fn verify_command(settings: Settings, args: VerifyArgs) -> anyhow::Result<()> {
    // A mistyped key must not silently fall back to the keys in the database.
    for k in &args.trusted_keys {
        zhifa_ledger::note::NoteVerifier::parse(k)
            .map_err(|e| anyhow!("--trusted-key 无效 / invalid --trusted-key {k}: {e}"))?;
    }
    if let Some(path) = &args.bundle {
        return verify_bundle(path, &args.trusted_keys);
    }
    if let Some(path) = &args.archive {
        return verify_archive(path, &args.trusted_keys);
    }
    let store = open_with(&settings, false).await?;
    let started = Instant::now();
    let mut report = store.verify(&args.trusted_keys).await?;
    // What was signed must still be there: the signer's records beside the keys, and any
    // checkpoint obtained elsewhere.
    let mut claims = match key_store(&settings)? {
        Some(keys) => keys.signed_heads(&store.log_heads().await?)?,
        None => vec![],
    };
    for path in &args.trusted_checkpoints {
        claims.push(trusted_checkpoint(&store, path, &args.trusted_keys).await?);
    }
    // A witness's cosignatures: each must verify, every log must have one, and the log
    // must contain each cosigned checkpoint; with --witness-url, also the witness's own
    // newest view, which a database put back with its cosignatures cannot hide.
    for w in &args.witnesses {
        let witness = zhifa_ledger::witness::CosignatureVerifier::parse(w)
            .map_err(|e| anyhow!("--witness 无效 / invalid --witness {w}: {e}"))?;
        let found = store.witness_findings(&witness).await?;
        claims.extend(found.claims);
        for f in found.failures {
            report.fail(f);
        }
        if let Some(url) = &args.witness_url {
            let (online, missing) = crate::witnessing::fetch_claims(&store, &witness, url).await?;
            claims.extend(online);
            for m in missing {
                report.fail(m);
            }
        }
    }
    for u in store.unmet_claims(&claims).await? {
        report.fail(u.to_string());
    }
    println!(
        "核验 / verified: {} 个日志 logs, {} 条记录 entries, {} 个签名树头 checkpoints, {} 行数据 rows ({} ms)",
        report.logs,
        report.entries,
        report.checkpoints,
        report.rows,
        started.elapsed().as_millis()
    );
    if !report.entries_authenticated {
        println!(
            "注意：没有密钥目录，未核对条目认证码（用 --key-dir 指定）/ note: no key directory, entry authentication codes not checked (give --key-dir)"
        );
    }
    if report.ok() {
        println!("通过 / OK");
        return Ok(());
    }
    for f in &report.failures {
        println!("失败 / FAILED: {f}");
    }
    if report.more_failures > 0 {
        println!(
            "……另有 {} 处 / and {} more",
            report.more_failures, report.more_failures
        );
    }
    bail!(
        "核验未通过：{} 处问题 / verification failed: {} problems",
        report.failures.len() + report.more_failures,
        report.failures.len() + report.more_failures
    )
}

async fn ledger_command(settings: Settings, cmd: LedgerCommand) -> anyhow::Result<()> {
    let store = open(&settings).await?;
    match cmd {
        LedgerCommand::List => {
            for head in store.log_heads().await? {
                println!(
                    "{}  {}  size={}  root={}",
                    head.origin,
                    zhifa_store::org::crypto_of(head.alg).label(),
                    head.size,
                    zhifa_ledger::hash::to_hex(&head.root)
                );
                for (key, retired) in store.log_keys(head.log_id).await? {
                    println!("    {} {key}", if retired { "retired" } else { "current" });
                }
            }
        }
        LedgerCommand::RotateKey { agency } => {
            let keys = key_store(&settings)?
                .ok_or_else(|| anyhow!("请用 --key-dir 指定密钥目录 / use --key-dir"))?;
            let log_id = store
                .log_id_by_name(&agency)
                .await
                .map_err(|_| anyhow!("执法主体不存在 / no agency with slug {agency}"))?;
            let vkey = store.rotate_log_key(log_id, &keys).await?;
            println!("新公钥 / new verifier key: {vkey}");
        }
        LedgerCommand::Export { agency, out } => {
            let log_id = store
                .log_id_by_name(&agency)
                .await
                .map_err(|_| anyhow!("执法主体不存在 / no agency with slug {agency}"))?;
            let bundle = store.export_bundle(log_id).await?;
            std::fs::write(&out, serde_json::to_vec(&bundle)?)
                .with_context(|| format!("无法写入 / cannot write {}", out.display()))?;
            println!(
                "已导出 {} 条记录到 {} / exported {} entries",
                bundle.entries.len(),
                out.display(),
                bundle.entries.len()
            );
        }
        LedgerCommand::Checkpoint => {
            let keys = key_store(&settings)?
                .ok_or_else(|| anyhow!("请用 --key-dir 指定密钥目录 / use --key-dir"))?;
            let n = store.checkpoint_all(&keys).await?;
            println!("已签发 {n} 个树头 / {n} checkpoints signed");
        }
        LedgerCommand::Rebase { confirm, by } => {
            let keys = key_store(&settings)?
                .ok_or_else(|| anyhow!("请用 --key-dir 指定密钥目录 / use --key-dir"))?;
            let unmet = store.rollback_findings(&keys).await?;
            if unmet.is_empty() {
                println!("各日志均包含已签名的记录，无需处理 / every log holds what was signed");
                return Ok(());
            }
            for u in &unmet {
                println!("{u}");
            }
            if !confirm {
                bail!(
                    "以上已签名的记录将被视为丢失；确认接受请加 --confirm（操作将记入系统日志）\n\
                     the signed entries above would be accepted as lost: add --confirm"
                );
            }
            let by = by.unwrap_or_else(|| std::env::var("USER").unwrap_or_default());
            store.rebase_signer(&keys, &by).await?;
            println!(
                "已记入系统日志，签名将从当前日志继续 / recorded in the installation's log; signing resumes from the logs as they are"
            );
        }
    }
    Ok(())
}

async fn demo_command(mut settings: Settings) -> anyhow::Result<()> {
    let started = Instant::now();
    let shutdown = server::Shutdown::install()?;
    if settings.database.is_none() {
        let dir = PathBuf::from("zhifa-demo-data");
        // The keys live beside the default data, as they do for `--data DIR`.
        if settings.key_dir.is_none() {
            settings.key_dir = Some(dir.join("keys"));
        }
        settings.database = Some(Database::DataDir(dir));
    }
    settings.web.demo = true;
    let listener = server::bind(settings.addr).await?;
    let store = open(&settings).await?;
    let created = demo::ensure(&store).await?;
    let keys = key_store(&settings)?;
    // The demo's logs are signed before the first page is served.
    if let Some(k) = &keys {
        store.checkpoint_all(k).await?;
    }
    let url = format!("http://{}", listener.local_addr()?);
    println!(
        "zhifa 示例乡镇已就绪 / demo township ready ({} ms{})",
        started.elapsed().as_millis(),
        if created {
            ", 新建 / created"
        } else {
            ", 沿用已有数据 / reusing existing data"
        }
    );
    if let Some(Database::DataDir(d)) = &settings.database {
        println!("  数据目录 / data:   {}", d.display());
    }
    println!("  公示网站 / portal: {url}/");
    println!("  工作台 / workbench: {url}/app");
    println!(
        "  示例账号 / demo accounts (密码 / password: {}):",
        demo::DEMO_PASSWORD
    );
    for a in demo::accounts() {
        let roles: Vec<&str> = a
            .roles
            .iter()
            .filter_map(|r| Role::from_code(r))
            .map(|r| r.label())
            .collect();
        println!(
            "    {:<11} {}（{}，{}）",
            a.username,
            a.name,
            roles.join("、"),
            a.department
        );
    }
    let _lock = hold_data_dir(&settings, &store).await?;
    server::serve(listener, store, settings.web, keys, shutdown).await
}

async fn serve_command(settings: Settings) -> anyhow::Result<()> {
    let shutdown = server::Shutdown::install()?;
    let listener = server::bind(settings.addr).await?;
    let store = open(&settings).await?;
    tracing::info!(addr = %listener.local_addr()?, backend = store.backend().name(), "serving");
    println!(
        "zhifa 正在运行 / serving on http://{}",
        listener.local_addr()?
    );
    let keys = key_store(&settings)?;
    if keys.is_none() {
        tracing::warn!("no --key-dir: this node signs no checkpoints");
    }
    let _lock = hold_data_dir(&settings, &store).await?;
    server::serve(listener, store, settings.web, keys, shutdown).await
}

/// Takes the data directory's lock ([`lock_data_dir`]); held, the server is the only
/// process using the database, so the login attempts a killed predecessor left pending
/// are released before the first request (on PostgreSQL, where several nodes share one
/// database, they lapse after `PENDING_STALE_MS` instead).
async fn hold_data_dir(
    settings: &Settings,
    store: &Store,
) -> anyhow::Result<Option<std::fs::File>> {
    let lock = lock_data_dir(settings)?;
    if lock.is_some() {
        let released = store.release_pending_logins(zhifa_store::now_ms()).await?;
        if released > 0 {
            tracing::info!(
                released,
                "login attempts left pending by a stopped server released"
            );
        }
    }
    Ok(lock)
}

/// One server per data directory: two would share one SQLite file with two writer
/// threads and two checkpointers signing over each other. The lock lasts as long as the
/// returned file is open (the operating system releases it if the process dies).
fn lock_data_dir(settings: &Settings) -> anyhow::Result<Option<std::fs::File>> {
    let Some(Database::DataDir(dir)) = &settings.database else {
        return Ok(None);
    };
    let path = dir.join("zhifa.lock");
    let file = zhifa_store::files::create_private(&path, false)
        .with_context(|| format!("无法创建锁文件 / cannot create {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => bail!(
            "另一个 zhifa 服务正在使用数据目录 {}，同一数据目录只能运行一个服务\n\
             another zhifa server is using {}: one server per data directory",
            dir.display(),
            dir.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("无法锁定 / cannot lock {}", path.display()))
        }
    }
}

/// Reads a password from standard input (first line) or `ZHIFA_PASSWORD`.
fn read_password(from_stdin: bool) -> anyhow::Result<String> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_owned());
    }
    std::env::var("ZHIFA_PASSWORD").map_err(|_| {
        anyhow!(
            "请通过 --password-stdin 或环境变量 ZHIFA_PASSWORD 提供密码（不要写在命令行参数里）\n\
             provide the password with --password-stdin or ZHIFA_PASSWORD (never as an argument)"
        )
    })
}

fn policy_password(raw: &str, username: &Username) -> anyhow::Result<Password> {
    Password::parse(raw, Some(username))
        .map_err(|e| anyhow!("密码不符合要求 / password rejected: {e}"))
}

async fn init_command(settings: Settings, args: InitArgs) -> anyhow::Result<()> {
    let store = open(&settings).await?;
    let parent_id = match &args.parent {
        Some(slug) => Some(
            store
                .agency_by_slug(slug)
                .await
                .map_err(|_| anyhow!("上级执法主体不存在 / no agency with slug {slug}"))?
                .id,
        ),
        None => None,
    };
    let agency = NewAgency::parse(&AgencyInput {
        name: args.agency_name.clone(),
        slug: args.slug.clone(),
        kind: args.kind.clone(),
        credit_code: args.credit_code.clone(),
        legal_basis: args.legal_basis.clone(),
        address: String::new(),
        parent_id: parent_id.map(|p| p.to_string()).unwrap_or_default(),
        crypto: args.crypto.clone(),
    })
    .map_err(|e| anyhow!("执法主体信息有误 / invalid agency: {e}"))?;
    let username = Username::parse(&args.admin_user).map_err(|e| anyhow!("{e}"))?;
    let admin_name = zhifa_domain::account::display_name(&args.admin_name)
        .map_err(|e| anyhow!("管理员姓名 / admin name: {e}"))?;
    let pw = policy_password(&read_password(args.password_stdin)?, &username)?;
    let hash = password::hash(pw.expose()).await;
    let mut tx = store.write(Actor::System("init")).await?;
    let agency_id = tx
        .create_agency(&agency)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    tx.create_user(
        agency_id,
        None,
        &username,
        &admin_name,
        &hash,
        &[Role::Admin],
    )
    .await
    .map_err(|e| anyhow!("{e}"))?;
    tx.commit().await?;
    if let Some(keys) = key_store(&settings)? {
        store.checkpoint_all(&keys).await?;
    }
    let crypto = store.agency(agency_id).await?.crypto;
    println!(
        "已创建执法主体 {}（{}，{}）及管理员 {} / agency and administrator created ({})",
        agency.name,
        agency.slug.as_str(),
        crypto.label(),
        username,
        crypto.code()
    );
    Ok(())
}

async fn user_command(settings: Settings, cmd: UserCommand) -> anyhow::Result<()> {
    let store = open(&settings).await?;
    match cmd {
        UserCommand::Add {
            agency,
            username,
            name,
            roles,
            password_stdin,
        } => {
            let agency = store
                .agency_by_slug(&agency)
                .await
                .map_err(|_| anyhow!("执法主体不存在 / no agency with slug {agency}"))?;
            let username = Username::parse(&username).map_err(|e| anyhow!("{e}"))?;
            let roles: Vec<Role> = roles
                .iter()
                .map(|r| {
                    Role::from_code(r.trim()).ok_or_else(|| anyhow!("未知角色 / unknown role: {r}"))
                })
                .collect::<anyhow::Result<_>>()?;
            let name = zhifa_domain::account::display_name(&name)
                .map_err(|e| anyhow!("姓名 / name: {e}"))?;
            let pw = policy_password(&read_password(password_stdin)?, &username)?;
            let hash = password::hash(pw.expose()).await;
            let mut tx = store.write(Actor::System("cli")).await?;
            tx.create_user(agency.id, None, &username, &name, &hash, &roles)
                .await
                .map_err(|e| anyhow!("{e}"))?;
            tx.commit().await?;
            println!("已创建账号 / account created: {username}");
        }
        UserCommand::Passwd {
            username,
            password_stdin,
        } => {
            let user = store
                .user_by_username(&username)
                .await
                .map_err(|_| anyhow!("账号不存在 / no such user: {username}"))?;
            let uname = Username::parse(&user.username).map_err(|e| anyhow!("{e}"))?;
            let pw = policy_password(&read_password(password_stdin)?, &uname)?;
            let hash = password::hash(pw.expose()).await;
            let mut tx = store.write(Actor::System("cli")).await?;
            tx.set_user_password(user.id, &hash).await?;
            tx.commit().await?;
            println!("密码已修改，该账号的会话已全部结束 / password changed; sessions ended");
        }
        UserCommand::List { agency } => {
            let agencies = store.list_agencies().await?;
            let filter = match agency {
                Some(slug) => Some(
                    agencies
                        .iter()
                        .find(|a| a.slug == slug)
                        .ok_or_else(|| anyhow!("执法主体不存在 / no agency with slug {slug}"))?
                        .id,
                ),
                None => None,
            };
            println!(
                "{:<16} {:<10} {:<10} {:<8} 角色 / roles",
                "用户名 username", "姓名", "主体", "状态"
            );
            for u in store.all_users().await? {
                if filter.is_some_and(|f| f != u.agency_id) {
                    continue;
                }
                let agency = agencies
                    .iter()
                    .find(|a| a.id == u.agency_id)
                    .map(|a| a.slug.as_str())
                    .unwrap_or("?");
                let roles: Vec<&str> = u.roles.iter().map(|r| r.code()).collect();
                println!(
                    "{:<16} {:<10} {:<10} {:<8} {}",
                    u.username,
                    u.display_name,
                    agency,
                    if u.disabled { "disabled" } else { "active" },
                    roles.join(",")
                );
            }
        }
        UserCommand::Unlock { username } => {
            let user = store
                .user_by_username(&username)
                .await
                .map_err(|_| anyhow!("账号不存在 / no such user: {username}"))?;
            let mut tx = store.write(Actor::System("cli")).await?;
            tx.unlock_user(user.id).await?;
            tx.commit().await?;
            println!("已解除锁定 / unlocked: {username}");
        }
        UserCommand::Disable { username, enable } => {
            let user = store
                .user_by_username(&username)
                .await
                .map_err(|_| anyhow!("账号不存在 / no such user: {username}"))?;
            let mut tx = store.write(Actor::System("cli")).await?;
            tx.set_user_disabled(user.id, !enable).await?;
            tx.commit().await?;
            println!(
                "{} / {}",
                if enable {
                    "已启用"
                } else {
                    "已停用，会话已结束"
                },
                if enable {
                    "enabled"
                } else {
                    "disabled; sessions ended"
                }
            );
        }
    }
    Ok(())
}

async fn token_command(settings: Settings, cmd: TokenCommand) -> anyhow::Result<()> {
    let store = open(&settings).await?;
    match cmd {
        TokenCommand::Create {
            user,
            name,
            days,
            read_only,
        } => {
            let terms =
                zhifa_domain::token::TokenTerms::parse(&days, read_only, zhifa_store::now_ms())
                    .map_err(|e| anyhow!("{e} / --days must be a whole number of days, 1–365"))?;
            let u = store
                .user_by_username(&user)
                .await
                .map_err(|_| anyhow!("账号不存在 / no such user: {user}"))?;
            if u.disabled {
                bail!("账号已停用 / the account is disabled");
            }
            let token = format!("zf_{}", new_secret());
            let mut tx = store.write(Actor::System("cli")).await?;
            tx.create_api_token(&u, name.trim(), &token, &terms).await?;
            tx.commit().await?;
            eprintln!(
                "{}，有效至 {}（北京时间）/ {}, expires {} (Beijing)",
                if read_only {
                    "只读令牌"
                } else {
                    "读写令牌"
                },
                zhifa_domain::token::beijing_minute(terms.expires_at()),
                if read_only { "read-only" } else { "read-write" },
                zhifa_domain::token::beijing_minute(terms.expires_at()),
            );
            eprintln!("API 令牌只显示这一次，请妥善保存 / the token is shown only once:");
            println!("{token}");
        }
        TokenCommand::List => {
            println!(
                "{:<6} {:<16} {:<16} {:<10} {:<17} 状态 / state",
                "id", "用户 user", "用途 name", "权限 access", "有效至 expires"
            );
            let now = zhifa_store::now_ms();
            for t in store.list_tokens().await? {
                println!(
                    "{:<6} {:<16} {:<16} {:<10} {:<17} {}",
                    t.id,
                    t.username,
                    t.name,
                    if t.read_only {
                        "read-only"
                    } else {
                        "read-write"
                    },
                    zhifa_domain::token::beijing_minute(t.expires_at),
                    if t.revoked {
                        "revoked"
                    } else if t.expires_at <= now {
                        "expired"
                    } else {
                        "active"
                    }
                );
            }
        }
        TokenCommand::Revoke { id } => {
            let mut tx = store.write(Actor::System("cli")).await?;
            tx.revoke_token(id)
                .await
                .map_err(|_| anyhow!("令牌不存在 / no token with id {id}"))?;
            tx.commit().await?;
            println!("已吊销 / revoked: {id}");
        }
    }
    Ok(())
}
