//! The database admits the logins the app uses and no other: the app connects with the master
//! password it reads from SSM (`DATABASE_URL`), so IAM database authentication is on only if
//! some policy of the environment grants `rds-db:connect` (RDS User Guide, "IAM database
//! authentication": a login through IAM needs that permission on the DB user).

use std::path::Path;

use serde_json::Value as J;

/// The env's file `name`, as the generator writes it.
fn file(env: &str, name: &str) -> String {
    let envs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../envs");
    let files = gen::build(&envs, env, gen::Format::Json).expect("the env generates");
    files
        .into_iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("{env}: no {name}"))
        .contents
}

fn check(env: &str) {
    let doc: J = serde_json::from_str(&file(env, "main.tf.json")).unwrap();
    let db = &doc["resource"]["aws_db_instance"]["this"];
    let iam_auth = db["iam_database_authentication_enabled"].as_bool();
    assert!(iam_auth.is_some(), "{env}: the choice is written out");
    let grants_connect = doc.to_string().contains("rds-db:connect");
    let user_data = file(env, "user_data.sh");
    assert!(
        user_data.contains("db_password"),
        "{env}: the app logs in with the password from SSM"
    );
    assert_eq!(
        iam_auth,
        Some(grants_connect),
        "{env}: IAM database authentication is {iam_auth:?}, but rds-db:connect is granted: {grants_connect}; an unused way into the database must stay closed"
    );
}

#[test]
fn dev_database_admits_only_the_password_login() {
    check("dev");
}

#[test]
fn prod_database_admits_only_the_password_login() {
    check("prod");
}
