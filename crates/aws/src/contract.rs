//! The app contract: what the host gives a FastAPI app and what it expects from it, stated once.
//!
//! The same definitions produce the SSM parameters ([`Setting`]), the settings spec that
//! `read_settings.py` follows at boot to write the app's environment file
//! ([`Contract::settings_spec`]), the committed `app_contract.json` of each env, `gen contract`
//! and the README's "Your app" section.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::buckets::BucketRole;
use crate::ec2_app::APP_PORT;
use crate::env::{AppEnv, S3Access};
use crate::settings::Setting;
use crate::user_data::HostPaths;
use crate::Naming;

/// The file name of the contract beside the Terraform files.
pub const FILE_NAME: &str = "app_contract.json";

/// The database's TLS mode for libpq: the server's certificate and host name are verified.
pub const DB_SSLMODE: &str = "verify-full";

/// Where the value of a variable comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    /// An SSM parameter, read at boot with the instance role.
    Ssm(Setting),
    /// A value known when the files are generated.
    Value(String),
    /// A variable of user_data itself (its value here; the site file may change it).
    Boot { var: &'static str, value: String },
    /// `postgresql://` URL made of the database settings, with [`DB_SSLMODE`] and the CA file.
    DatabaseUrl,
}

/// One environment variable the app receives.
#[derive(Clone, Debug, PartialEq)]
pub struct Var {
    pub name: &'static str,
    pub meaning: &'static str,
    pub secret: bool,
    pub source: Source,
}

/// A variable the app receives only when the site file `/etc/default/<app>` sets it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Optional {
    pub name: &'static str,
    pub meaning: &'static str,
}

/// Variables passed through from the site file when set (proxies, endpoints, test stand-ins).
pub const OPTIONAL: &[Optional] = &[
    Optional {
        name: "AWS_ENDPOINT_URL",
        meaning: "another AWS endpoint for every service (boto3 reads it)",
    },
    Optional {
        name: "AWS_ENDPOINT_URL_S3",
        meaning: "another S3 endpoint (boto3 reads it)",
    },
    Optional {
        name: "TAVILY_API_URL",
        meaning: "another Tavily API base URL (default https://api.tavily.com)",
    },
    Optional {
        name: "GEMINI_API_URL",
        meaning: "another Gemini API base URL (default https://generativelanguage.googleapis.com)",
    },
    Optional {
        name: "HTTP_PROXY",
        meaning: "the site's HTTP proxy",
    },
    Optional {
        name: "HTTPS_PROXY",
        meaning: "the site's HTTPS proxy",
    },
    Optional {
        name: "NO_PROXY",
        meaning: "hosts reached without the proxy",
    },
    Optional {
        name: "READY_TIMEOUT_SECONDS",
        meaning: "bound of each readiness check of the starter app (examples/app, default 3)",
    },
];

/// How AWS credentials reach the app.
pub const AWS_CREDENTIALS: &str = "No AWS keys are given to the app. boto3's default credential chain gets the instance role's temporary credentials from the instance metadata service (IMDSv2 only: a token is required, hop limit 1) and renews them; create clients with no keys.";

/// What the app must hold and do.
pub const REQUIREMENTS: &str = "requirements.txt at the root of the repository (pip install -r, into the host's venv); uvicorn is installed by the host";

/// The whole contract of one environment.
#[derive(Clone, Debug, PartialEq)]
pub struct Contract {
    pub env: String,
    pub app_user: String,
    pub paths: HostPaths,
    pub ssm_prefix: String,
    pub port: u16,
    pub asgi_app: String,
    pub health_path: String,
    pub s3_access: S3Access,
    pub role_name: String,
    pub variables: Vec<Var>,
}

impl Contract {
    /// The contract of an app environment.
    pub fn new(env_name: &str, cfg: &AppEnv) -> Contract {
        let naming = Naming {
            project: cfg.project.as_str().to_string(),
            env: env_name.to_string(),
        };
        let paths = HostPaths::new(cfg.project.as_str());
        Contract {
            env: env_name.to_string(),
            app_user: cfg.app.user.as_str().to_string(),
            variables: variables(env_name, cfg, &paths),
            paths,
            ssm_prefix: naming.ssm_prefix(),
            port: APP_PORT,
            asgi_app: cfg.app.asgi_app.as_str().to_string(),
            health_path: cfg.app.health_path().to_string(),
            s3_access: cfg.iam.s3_access,
            role_name: naming.role_name(),
        }
    }

    /// What read_settings.py follows at boot (a JSON object, handed over by user_data):
    /// `ssm`: the keys to read; `env`: `[name, kind, argument]` per variable of the env file
    /// (kind `ssm`: a key, `value`: the value, `boot`: a variable of user_data, `url`: the
    /// database URL, argument unused); `db`: the keys the URL is made of and its TLS;
    /// `pass`: optional variables copied from user_data's environment when set; `repo`: the
    /// keys of the repository URL and branch (the deploy file).
    pub fn settings_spec(&self) -> String {
        let env: Vec<(&str, &str, String)> = self
            .variables
            .iter()
            .map(|v| match &v.source {
                Source::Ssm(s) => (v.name, "ssm", s.key().to_string()),
                Source::Value(x) => (v.name, "value", x.clone()),
                Source::Boot { var, .. } => (v.name, "boot", var.to_string()),
                Source::DatabaseUrl => (v.name, "url", String::new()),
            })
            .collect();
        let spec = serde_json::json!({
            "ssm": Setting::ALL,
            "env": env,
            "db": {
                "host": Setting::DbHost, "port": Setting::DbPort, "name": Setting::DbName,
                "user": Setting::DbUsername, "password": Setting::DbPassword,
                "sslmode": DB_SSLMODE, "ca": "DB_CA_FILE",
            },
            "pass": OPTIONAL.iter().map(|o| o.name).collect::<Vec<_>>(),
            "repo": [Setting::RepoUrl, Setting::RepoBranch],
        });
        serde_json::to_string(&spec).expect("a spec serializes")
    }

    /// The names of the variables the app receives (optional ones apart).
    pub fn names(&self) -> BTreeSet<&str> {
        self.variables.iter().map(|v| v.name).collect()
    }

    fn run(&self) -> String {
        format!(
            "uvicorn {} --host 0.0.0.0 --port {}, as the user `{}`, in {} (the repository), under systemd (restarted on failure)",
            self.asgi_app, self.port, self.app_user, self.paths.src_dir
        )
    }

    fn health(&self) -> String {
        format!(
            "GET {} answers 2xx on port {} (user_data and deploy.sh wait for it, HEALTH_WAIT_SECONDS; scripts/curl-health.sh checks it)",
            self.health_path, self.port
        )
    }

    fn aws_access(&self) -> String {
        let s3 = match self.s3_access {
            S3Access::Full => "S3: every action (s3:*) on the buckets named by S3_BUCKET_* only",
            S3Access::Scoped => {
                "S3: read, write, delete and list in the buckets named by S3_BUCKET_* only"
            }
        };
        format!(
            "The role `{}` may: {s3}; SSM: read its own parameters under {}/. {AWS_CREDENTIALS}",
            self.role_name, self.ssm_prefix
        )
    }

    fn database_tls(&self) -> String {
        format!(
            "TLS with the server's certificate and host name verified: DATABASE_URL carries sslmode={DB_SSLMODE} and sslrootcert={ca}, and PGSSLMODE/PGSSLROOTCERT say the same to libpq; {ca} is the RDS CA bundle, fetched at boot (RDS_CA_BUNDLE_URL). libpq drivers (psycopg, SQLAlchemy with psycopg) use DATABASE_URL as it is; asyncpg ignores sslrootcert: give it an ssl.SSLContext made from PGSSLROOTCERT.",
            ca = self.paths.ca_file
        )
    }

    /// The contract as JSON (`gen contract --json`, `app_contract.json`).
    pub fn to_json(&self) -> serde_json::Value {
        let vars: Vec<_> = self
            .variables
            .iter()
            .map(|v| {
                serde_json::json!({
                    "name": v.name, "meaning": v.meaning, "secret": v.secret,
                    "from": self.from(&v.source),
                })
            })
            .collect();
        serde_json::json!({
            "env": self.env,
            "port": self.port,
            "asgi_app": self.asgi_app,
            "health_path": self.health_path,
            "requirements": REQUIREMENTS,
            "run": self.run(),
            "health": self.health(),
            "env_file": self.paths.env_file,
            "aws_credentials": self.aws_access(),
            "database_tls": self.database_tls(),
            "variables": vars,
            "optional_variables": OPTIONAL,
        })
    }

    /// `app_contract.json`: the contract as JSON under a header line naming the command that
    /// regenerates it (gen's marker: the file is gen's).
    pub fn file(&self, regenerate: &str) -> String {
        let mut doc = serde_json::Map::new();
        doc.insert(
            "//".into(),
            format!(
                "Generated by fastapi-infra from envs/{}.toml. Do not edit: run `{regenerate}`. The app contract: what the host gives the app.",
                self.env
            )
            .into(),
        );
        if let serde_json::Value::Object(m) = self.to_json() {
            doc.extend(m);
        }
        let mut text = serde_json::to_string_pretty(&doc).expect("a contract serializes");
        text.push('\n');
        text
    }

    /// Where a value comes from, for people.
    fn from(&self, s: &Source) -> String {
        match s {
            Source::Ssm(setting) => format!("SSM {}/{}", self.ssm_prefix, setting.key()),
            Source::Value(v) => v.clone(),
            Source::Boot { value, .. } => value.clone(),
            Source::DatabaseUrl => format!(
                "postgresql://PGUSER:PGPASSWORD@PGHOST:PGPORT/PGDATABASE?sslmode={DB_SSLMODE}&sslrootcert={}",
                self.paths.ca_file
            ),
        }
    }

    /// The contract as Markdown (`gen contract`, the README's "Your app" section).
    pub fn markdown(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(s, "| the app | `{}` |\n|---|---|", self.env);
        for (what, text) in [
            ("code", format!("your git repository (`app_repo_url`, branch `app_repo_branch`), cloned to `{}`", self.paths.src_dir)),
            ("requirements", REQUIREMENTS.to_string()),
            ("runs", self.run()),
            ("health", self.health()),
            ("settings", format!("environment variables below, from `{}` (0600 root, systemd's `EnvironmentFile=`)", self.paths.env_file)),
            ("AWS", self.aws_access()),
            ("database", self.database_tls()),
        ] {
            let _ = writeln!(s, "| {what} | {} |", cell(&text));
        }
        let _ = writeln!(
            s,
            "\n| variable | secret | meaning | value |\n|---|---|---|---|"
        );
        for v in &self.variables {
            let secret = if v.secret { "yes" } else { "" };
            let _ = writeln!(
                s,
                "| `{}` | {secret} | {} | {} |",
                v.name,
                cell(v.meaning),
                cell(&format!("`{}`", self.from(&v.source)))
            );
        }
        let _ = writeln!(s, "\nOnly when the site file `/etc/default/{}` sets them (see \"Boot settings\"):\n\n| variable | meaning |\n|---|---|", self.paths.app);
        for o in OPTIONAL {
            let _ = writeln!(s, "| `{}` | {} |", o.name, cell(o.meaning));
        }
        s
    }
}

/// How two versions of `app_contract.json` differ.
#[derive(Debug, Default, PartialEq)]
pub struct Comparison {
    /// Changes the app must follow, one sentence each: variables renamed, removed or added, and
    /// another port, ASGI app or health path.
    pub must_follow: Vec<String>,
    /// Every value that differs: (`variables.<NAME>` or a top-level key, old, new).
    pub values: Vec<(String, Option<serde_json::Value>, Option<serde_json::Value>)>,
}

/// Compare two versions of `app_contract.json` (a variable whose name changed but whose value
/// comes from the same place is a rename).
pub fn compare(old: &str, new: &str) -> Result<Comparison, String> {
    use serde_json::Value as J;
    let parse =
        |t: &str| serde_json::from_str::<J>(t).map_err(|e| format!("{FILE_NAME}: not JSON ({e})"));
    let (old, new) = (parse(old)?, parse(new)?);
    let vars = |doc: &J| -> Vec<(String, J)> {
        doc["variables"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|v| {
                (
                    v["name"].as_str().unwrap_or_default().to_string(),
                    v.clone(),
                )
            })
            .collect()
    };
    let (ov, nv) = (vars(&old), vars(&new));
    let find =
        |list: &[(String, J)], n: &str| list.iter().find(|(m, _)| m == n).map(|(_, v)| v.clone());
    let mut c = Comparison::default();
    for key in ["port", "asgi_app", "health_path"] {
        if old[key] != new[key] {
            c.must_follow
                .push(format!("{key} {} -> {}", old[key], new[key]));
        }
    }
    let removed: Vec<&(String, J)> = ov.iter().filter(|(n, _)| find(&nv, n).is_none()).collect();
    let added: Vec<&(String, J)> = nv.iter().filter(|(n, _)| find(&ov, n).is_none()).collect();
    let mut renamed_to = Vec::new();
    for (name, v) in &removed {
        match added.iter().find(|(_, w)| w["from"] == v["from"]) {
            Some((to, _)) => {
                c.must_follow.push(format!(
                    "the variable {name} is renamed {to}: read {to} instead"
                ));
                renamed_to.push(to.clone());
            }
            None => c.must_follow.push(format!(
                "the variable {name} is removed: the app no longer gets it"
            )),
        }
    }
    for (name, _) in added.iter().filter(|(n, _)| !renamed_to.contains(n)) {
        c.must_follow.push(format!("the variable {name} is added"));
    }
    let names: Vec<&String> = ov.iter().chain(&nv).map(|(n, _)| n).collect();
    let mut seen = BTreeSet::new();
    for n in names.into_iter().filter(|n| seen.insert(n.as_str())) {
        let (a, b) = (find(&ov, n), find(&nv, n));
        if a != b {
            c.values.push((format!("variables.{n}"), a, b));
        }
    }
    for (k, v) in new.as_object().into_iter().flatten() {
        if k != "variables" && k != "//" && old.get(k) != Some(v) {
            c.values
                .push((k.clone(), old.get(k).cloned(), Some(v.clone())));
        }
    }
    Ok(c)
}

/// Text for a Markdown table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

fn var(name: &'static str, meaning: &'static str, source: Source) -> Var {
    let secret = match &source {
        Source::Ssm(s) => s.secret(),
        Source::DatabaseUrl => true,
        _ => false,
    };
    Var {
        name,
        meaning,
        secret,
        source,
    }
}

/// Every variable of the app's environment file, in its order.
fn variables(env_name: &str, cfg: &AppEnv, paths: &HostPaths) -> Vec<Var> {
    let region = || Source::Boot {
        var: "AWS_REGION",
        value: cfg.region.as_str().to_string(),
    };
    let mut vars = vec![
        var(
            "APP_ENV",
            "the environment's name",
            Source::Value(env_name.to_string()),
        ),
        var("AWS_REGION", "the environment's AWS region", region()),
        var(
            "AWS_DEFAULT_REGION",
            "the same, for older AWS tools",
            region(),
        ),
        var(
            "DATABASE_URL",
            "the Postgres connection URL (user, password, host, port, database, TLS)",
            Source::DatabaseUrl,
        ),
        var(
            "PGHOST",
            "Postgres host name (RDS endpoint)",
            Source::Ssm(Setting::DbHost),
        ),
        var("PGPORT", "Postgres port", Source::Ssm(Setting::DbPort)),
        var(
            "PGDATABASE",
            "Postgres database name",
            Source::Ssm(Setting::DbName),
        ),
        var(
            "PGUSER",
            "Postgres user name",
            Source::Ssm(Setting::DbUsername),
        ),
        var(
            "PGPASSWORD",
            "Postgres password",
            Source::Ssm(Setting::DbPassword),
        ),
        var(
            "PGSSLMODE",
            "libpq's TLS mode",
            Source::Value(DB_SSLMODE.to_string()),
        ),
        var(
            "PGSSLROOTCERT",
            "the RDS CA bundle libpq verifies the server with",
            Source::Boot {
                var: "DB_CA_FILE",
                value: paths.ca_file.clone(),
            },
        ),
        var(
            "TAVILY_API_KEY",
            "Tavily API key",
            Source::Ssm(Setting::TavilyApiKey),
        ),
        var(
            "GEMINI_API_KEY",
            "Gemini API key",
            Source::Ssm(Setting::GeminiApiKey),
        ),
    ];
    for role in BucketRole::ALL {
        if let Some((name, meaning)) = role.env_var() {
            vars.push(var(
                name,
                meaning,
                Source::Value(role.bucket(&cfg.buckets).as_str().to_string()),
            ));
        }
    }
    vars
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_optional_ones_apart() {
        let cfg: AppEnv = toml_env();
        let c = Contract::new("dev", &cfg);
        assert_eq!(c.names().len(), c.variables.len());
        for o in OPTIONAL {
            assert!(!c.names().contains(o.name), "{}", o.name);
        }
    }

    #[test]
    fn a_rename_a_removal_and_an_addition_are_changes_the_app_must_follow() {
        let old = Contract::new("dev", &toml_env());
        let mut new = old.clone();
        new.variables[4].name = "DB_HOST"; // PGHOST, same source
        new.variables.retain(|v| v.name != "PGPORT");
        new.variables
            .push(var("EXTRA", "x", Source::Value("1".into())));
        new.health_path = "/healthz".into();
        let c = compare(&old.file("r"), &new.file("r")).unwrap();
        assert_eq!(
            c.must_follow,
            [
                "health_path \"/health\" -> \"/healthz\"",
                "the variable PGHOST is renamed DB_HOST: read DB_HOST instead",
                "the variable PGPORT is removed: the app no longer gets it",
                "the variable EXTRA is added",
            ]
        );
        assert!(c
            .values
            .iter()
            .any(|(p, a, b)| p == "variables.PGHOST" && a.is_some() && b.is_none()));
        assert_eq!(
            compare(&old.file("r"), &old.file("other command")).unwrap(),
            Comparison::default()
        );
    }

    #[test]
    fn secrets_are_the_write_only_settings_and_the_url() {
        let c = Contract::new("dev", &toml_env());
        let secret: Vec<&str> = c
            .variables
            .iter()
            .filter(|v| v.secret)
            .map(|v| v.name)
            .collect();
        assert_eq!(
            secret,
            [
                "DATABASE_URL",
                "PGPASSWORD",
                "TAVILY_API_KEY",
                "GEMINI_API_KEY"
            ]
        );
    }

    fn toml_env() -> AppEnv {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../envs/dev.toml"))
                .unwrap();
        toml::from_str(&text).unwrap()
    }
}
