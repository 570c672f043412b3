//! user_data: the cloud-init script of the app host, rendered with tera from
//! `templates/user_data.sh.tera`. Only literals known at generation time go in; secrets and
//! values known after apply (the database host) are read from SSM Parameter Store at boot.

use std::sync::OnceLock;

use serde::Serialize;

const TEMPLATE: &str = include_str!("../templates/user_data.sh.tera");
/// Inserted verbatim (not parsed by tera): the Python that reads SSM at boot.
const READ_SETTINGS_PY: &str = include_str!("../templates/read_settings.py");

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
        static TERA: OnceLock<tera::Tera> = OnceLock::new();
        let tera = TERA.get_or_init(|| {
            let mut t = tera::Tera::default();
            t.autoescape_on(vec![]);
            t.add_raw_template(FILE_NAME, TEMPLATE)
                .expect("the user_data template parses");
            t
        });
        let mut ctx = tera::Context::from_serialize(self).expect("UserData serializes");
        ctx.insert("read_settings_py", READ_SETTINGS_PY.trim_end());
        tera.render(FILE_NAME, &ctx)
            .expect("the user_data template renders")
    }
}
