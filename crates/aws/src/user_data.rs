//! user_data: the cloud-init script of the app host, rendered with tera from
//! `templates/user_data.sh.tera`. Only literals known at generation time go in; secrets and
//! values known after apply (the database host) are read from SSM Parameter Store at boot.
//!
//! Every value is quoted for where it lands, by a filter the template names at each use
//! (see `quote`): `sh` for bash words, `unit_word` for words of the unit's ExecStart=,
//! `unit_text` for the unit's other settings, `comment` for comment lines. The unit file is
//! written by a quoted heredoc, so bash expands nothing in it.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Serialize;

use crate::quote;

const TEMPLATE: &str = include_str!("../templates/user_data.sh.tera");
/// Inserted verbatim (not parsed by tera): the Python that reads SSM at boot.
const READ_SETTINGS_PY: &str = include_str!("../templates/read_settings.py");

/// The file name beside the Terraform files.
pub const FILE_NAME: &str = "user_data.sh";

/// Everything the template needs.
#[derive(Serialize)]
pub struct UserData<'a> {
    pub project: &'a str,
    pub env: &'a str,
    pub app_name: &'a str,
    pub app_user: &'a str,
    pub region: &'a str,
    pub ssm_prefix: String,
    /// What read_settings.py reads and writes: `contract::Contract::settings_spec`.
    pub settings_spec: String,
    pub app_port: u16,
    pub asgi_app: &'a str,
    pub health_path: &'a str,
    /// The command that regenerates this script (the CLI is `gen`'s business, not this crate's).
    pub regenerate: &'a str,
}

/// Where the app lives on the host, derived once from the app's name (the script's variables,
/// the unit file and the app contract all use these).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HostPaths {
    pub app: String,
    pub app_dir: String,
    /// The clone of the app's repository: the service's working directory.
    pub src_dir: String,
    pub venv_dir: String,
    pub uvicorn: String,
    pub conf_dir: String,
    /// The app's environment file (systemd's `EnvironmentFile=`).
    pub env_file: String,
    pub deploy_file: String,
    /// The RDS CA bundle the database's certificate is verified with.
    pub ca_file: String,
    pub unit: String,
    pub unit_file: String,
}

impl HostPaths {
    pub fn new(app: &str) -> HostPaths {
        let app_dir = format!("/opt/{app}");
        let conf_dir = format!("/etc/{app}");
        let unit = format!("{app}.service");
        HostPaths {
            app: app.to_string(),
            src_dir: format!("{app_dir}/src"),
            venv_dir: format!("{app_dir}/venv"),
            uvicorn: format!("{app_dir}/venv/bin/uvicorn"),
            env_file: format!("{conf_dir}/env"),
            deploy_file: format!("{conf_dir}/deploy"),
            ca_file: format!("{conf_dir}/rds-ca-bundle.pem"),
            unit_file: format!("/etc/systemd/system/{unit}"),
            app_dir,
            conf_dir,
            unit,
        }
    }
}

type Filter = fn(&str) -> Result<String, String>;

/// A tera filter from a quoting function; numbers are quoted as their decimal text.
fn filter(f: Filter) -> impl tera::Filter {
    move |v: &tera::Value, _: &HashMap<String, tera::Value>| {
        let s = match v {
            tera::Value::String(s) => s.clone(),
            tera::Value::Number(n) => n.to_string(),
            other => return Err(tera::Error::msg(format!("cannot quote {other}"))),
        };
        f(&s).map(tera::Value::String).map_err(tera::Error::msg)
    }
}

/// read_settings.py as it goes into user_data: without its comment-only lines (EC2 takes at most
/// 16 KB of user data; the comments stay in the source). Its strings hold no line starting with `#`.
pub fn read_settings_py() -> String {
    let kept: Vec<&str> = READ_SETTINGS_PY
        .trim_end()
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect();
    kept.join("\n")
}

impl UserData<'_> {
    /// Render the script. The template is part of the binary, so a failure is a bug here (or a
    /// NUL byte in a value, which the env-file checks refuse).
    pub fn render(&self) -> String {
        static TERA: OnceLock<tera::Tera> = OnceLock::new();
        let tera = TERA.get_or_init(|| {
            let mut t = tera::Tera::default();
            t.autoescape_on(vec![]);
            t.register_filter("sh", filter(quote::sh));
            t.register_filter("unit_word", filter(quote::unit_word));
            t.register_filter("unit_text", filter(quote::unit_text));
            t.register_filter("comment", filter(|s| Ok(quote::comment(s))));
            t.add_raw_template(FILE_NAME, TEMPLATE)
                .expect("the user_data template parses");
            t
        });
        let mut ctx = tera::Context::from_serialize(self).expect("UserData serializes");
        ctx.insert("read_settings_py", &read_settings_py());
        ctx.insert("paths", &HostPaths::new(self.app_name));
        ctx.insert(
            "health_url",
            &format!("http://127.0.0.1:{}{}", self.app_port, self.health_path),
        );
        match tera.render(FILE_NAME, &ctx) {
            Ok(s) => s,
            Err(e) => panic!("the user_data template renders: {e:?}"),
        }
    }
}
