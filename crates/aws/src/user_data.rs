//! user_data: the cloud-init script of the app host, rendered with tera from
//! `templates/user_data.sh.tera`. Only literals known at generation time go in; secrets and
//! values known after apply (the database host) are read from SSM Parameter Store at boot.

use serde::Serialize;

const TEMPLATE: &str = include_str!("../templates/user_data.sh.tera");

/// The file name beside the Terraform files.
pub const FILE_NAME: &str = "user_data.sh";

/// One bucket, as an environment variable of the app.
#[derive(Serialize)]
pub struct BucketVar {
    pub var: String,
    pub name: String,
}

/// Everything the template needs.
#[derive(Serialize)]
pub struct UserData<'a> {
    pub project: &'a str,
    pub env: &'a str,
    pub app_name: &'a str,
    pub app_user: &'a str,
    pub region: &'a str,
    pub ssm_prefix: String,
    pub parameter_keys: Vec<&'a str>,
    pub buckets: Vec<BucketVar>,
    pub app_port: u16,
    pub asgi_app: &'a str,
    pub health_path: &'a str,
}

impl UserData<'_> {
    /// Render the script. The template is part of the binary, so a failure is a bug here.
    pub fn render(&self) -> String {
        let ctx = tera::Context::from_serialize(self).expect("UserData serializes");
        tera::Tera::one_off(TEMPLATE, &ctx, false).expect("the user_data template renders")
    }
}
