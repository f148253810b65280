//! `albkit versions`: published versions of each function, with dates, sizes, and which
//! one `live` serves.

use super::code::prove;
use super::output::{FunctionVersions, VersionsDoc};
use super::session::Session;
use super::Outcome;
use crate::aws::clients::Aws;
use crate::aws::error::AwsResultExt;
use crate::cli::{Cli, VersionsArgs};
use crate::error::Result;
use crate::model::lifecycle::numeric_versions;

/// A published version of a function.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct Version {
    pub version: String,
    pub last_modified: String,
    #[schemars(range(min = 0))]
    pub code_size: i64,
    pub code_sha256: String,
    pub description: String,
}

/// Every published version (not `$LATEST`), ascending.
pub(crate) async fn list_versions(aws: &Aws, name: &str) -> Result<Vec<Version>> {
    let mut all = Vec::new();
    let mut pages = aws
        .lambda
        .list_versions_by_function()
        .function_name(name)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.aws("ListVersionsByFunction", name)?;
        all.extend(page.versions().iter().map(|v| Version {
            version: v.version().unwrap_or_default().to_string(),
            last_modified: v.last_modified().unwrap_or_default().to_string(),
            code_size: v.code_size(),
            code_sha256: v.code_sha256().unwrap_or_default().to_string(),
            description: v.description().unwrap_or_default().to_string(),
        }));
    }
    let order = numeric_versions(all.iter().map(|v| v.version.as_str()));
    let mut out: Vec<Version> = order
        .iter()
        .filter_map(|n| all.iter().find(|v| v.version == n.to_string()).cloned())
        .collect();
    out.dedup_by(|a, b| a.version == b.version);
    Ok(out)
}

pub(crate) async fn run(cli: &Cli, args: &VersionsArgs) -> Result<Outcome> {
    let s = Session::connect(cli).await?;
    let mut doc = Vec::new();
    for f in s.select(args.function.as_deref())? {
        let (proven, live) = prove(&s, &f.name, true).await?;
        let name = proven.name;
        let live = live.map(|l| l.version).unwrap_or_default();
        let versions = list_versions(&s.aws, &name).await?;
        if s.json() {
            doc.push(FunctionVersions {
                function: f.name.clone(),
                name,
                live,
                versions,
            });
            continue;
        }
        println!("Function {} ({name}):", f.name);
        println!(
            "  {:>7}  {:<30}  {:>10}  {:<44}",
            "VERSION", "PUBLISHED", "SIZE", "CODE SHA-256"
        );
        for v in &versions {
            let marker = if v.version == live { "  <- live" } else { "" };
            println!(
                "  {:>7}  {:<30}  {:>10}  {:<44}{marker}",
                v.version, v.last_modified, v.code_size, v.code_sha256
            );
        }
    }
    Ok(Outcome::json(0, s.json(), &VersionsDoc { functions: doc }))
}
