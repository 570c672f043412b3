//! settings: the app's configuration in SSM Parameter Store. Every parameter is a SecureString,
//! so no secret appears in user_data or outputs; the instance reads them at boot with its own
//! role. Secrets come from ephemeral variables through the write-only `value_wo`, so they are in
//! neither plan nor state; a bumped `value_wo_version` sends a new value.

use tf::{Address, Body, Stack, Value};

use crate::{Arn, Naming};

/// One parameter: `<prefix>/<key>`.
pub struct Parameter {
    pub key: &'static str,
    pub description: &'static str,
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
            let name = format!("{prefix}/{}", p.key);
            let body = Body::new()
                .attr("name", name.as_str())
                .attr("description", p.description)
                .attr("type", "SecureString");
            let body = match &p.write_only_version {
                Some(version) => body
                    .attr("value_wo", p.value.clone())
                    .attr("value_wo_version", version.clone()),
                None => body.attr("value", p.value.clone()),
            };
            let addr = stack.resource("aws_ssm_parameter", p.key, body);
            arns.push(Arn(addr.attr("arn")));
            addresses.push(addr);
        }
        SettingsOutputs { arns, addresses }
    }
}
