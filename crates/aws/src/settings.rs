//! settings: the app's configuration in SSM Parameter Store. Every parameter is a SecureString,
//! so no secret appears in user_data or outputs; the instance reads them at boot with its own
//! role. Secrets come from ephemeral variables through the write-only `value_wo`, so they are in
//! neither plan nor state; a bumped `value_wo_version` sends a new value.

use tf::{Address, Body, Stack, Value};

use crate::{Arn, Naming};

/// The app's settings in SSM Parameter Store, one parameter each: the one list of their keys
/// (the parameters, the instance role's grants, what read_settings.py reads at boot).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Setting {
    DbHost,
    DbPort,
    DbName,
    DbUsername,
    DbPassword,
    TavilyApiKey,
    GeminiApiKey,
    RepoUrl,
    RepoBranch,
}

impl Setting {
    /// Every setting, in the order the parameters are declared.
    pub const ALL: [Setting; 9] = [
        Setting::DbHost,
        Setting::DbPort,
        Setting::DbName,
        Setting::DbUsername,
        Setting::DbPassword,
        Setting::TavilyApiKey,
        Setting::GeminiApiKey,
        Setting::RepoUrl,
        Setting::RepoBranch,
    ];

    /// The parameter's name under the prefix, and its resource name.
    pub fn key(self) -> &'static str {
        match self {
            Setting::DbHost => "db_host",
            Setting::DbPort => "db_port",
            Setting::DbName => "db_name",
            Setting::DbUsername => "db_username",
            Setting::DbPassword => "db_password",
            Setting::TavilyApiKey => "tavily_api_key",
            Setting::GeminiApiKey => "gemini_api_key",
            Setting::RepoUrl => "repo_url",
            Setting::RepoBranch => "repo_branch",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Setting::DbHost => "Postgres host name",
            Setting::DbPort => "Postgres port",
            Setting::DbName => "Postgres database name",
            Setting::DbUsername => "Postgres user name",
            Setting::DbPassword => "Postgres password",
            Setting::TavilyApiKey => "Tavily API key",
            Setting::GeminiApiKey => "Gemini API key",
            Setting::RepoUrl => "Git URL of the app",
            Setting::RepoBranch => "Branch of the app",
        }
    }

    /// A secret: written through the write-only `value_wo` from an ephemeral variable, never
    /// in plan or state.
    pub fn secret(self) -> bool {
        matches!(
            self,
            Setting::DbPassword | Setting::TavilyApiKey | Setting::GeminiApiKey | Setting::RepoUrl
        )
    }
}

impl serde::Serialize for Setting {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.key())
    }
}

/// One parameter: `<prefix>/<key>`.
pub struct Parameter {
    pub setting: Setting,
    pub value: Value,
    /// `Some(version)`: a secret, written through `value_wo` (never in plan or state) with
    /// `value_wo_version = version`. `None`: stored as `value`.
    pub write_only_version: Option<Value>,
}

/// The app's parameters under `/<project>/<env>/`.
pub struct AppSettings<'a> {
    pub naming: &'a Naming,
    pub parameters: Vec<Parameter>,
}

/// What the settings give other modules: the parameter ARNs (for the instance role) and their
/// addresses (what the instance must wait for).
pub struct SettingsOutputs {
    pub arns: Vec<Arn>,
    pub addresses: Vec<Address>,
}

impl AppSettings<'_> {
    pub fn emit(&self, stack: &mut Stack) -> SettingsOutputs {
        let prefix = self.naming.ssm_prefix();
        let mut arns = Vec::new();
        let mut addresses = Vec::new();
        for p in &self.parameters {
            let name = format!("{prefix}/{}", p.setting.key());
            let body = Body::new()
                .attr("name", name.as_str())
                .attr("description", p.setting.description())
                .attr("type", "SecureString");
            let body = match &p.write_only_version {
                Some(version) => body
                    .attr("value_wo", p.value.clone())
                    .attr("value_wo_version", version.clone()),
                None => body.attr("value", p.value.clone()),
            };
            let addr = stack.resource("aws_ssm_parameter", p.setting.key(), body);
            arns.push(Arn(addr.attr("arn")));
            addresses.push(addr);
        }
        SettingsOutputs { arns, addresses }
    }
}
