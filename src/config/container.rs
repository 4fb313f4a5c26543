//! The keys only `bringup export` reads: `image`, `build`, and what it
//! needs to know about `env_file` and `env` to write them out the way
//! compose and Kubernetes read them.
//!
//! They are checked when the config loads, like every other key, so a
//! typo in an image name is found by `bringup check` and not by a cluster
//! later; bringup itself never reads them when it runs a service.

use std::collections::BTreeSet;

use toml::Spanned;

use crate::config::context::Context;
use crate::config::error::Collector;
use crate::config::plan::{BuildSpec, ContainerSpec};
use crate::config::raw::{RawBuild, RawProject, RawService};

/// The container side of the service at `path`.
pub(crate) fn container(
    path: &str,
    raw: &RawService,
    project: &RawProject,
    cx: &Context<'_>,
    errors: &mut Collector<'_>,
) -> ContainerSpec {
    let image = raw
        .image
        .as_ref()
        .and_then(|image| checked_image(path, image, errors));
    let build = raw
        .build
        .as_ref()
        .and_then(|build| checked_build(path, build, cx, errors));
    let env_files = [&project.env_file, &raw.env_file]
        .into_iter()
        .flatten()
        .flat_map(|files| files.get_ref().to_vec())
        .map(|file| cx.base_dir.join(file))
        .collect();
    let env_set: BTreeSet<String> = [&project.env, &raw.env]
        .into_iter()
        .flatten()
        .flat_map(|table| table.keys().cloned())
        .collect();
    ContainerSpec {
        image,
        build,
        env_files,
        env_set,
        cwd_given: raw.cwd.is_some(),
    }
}

/// An image reference: non-empty, with no whitespace or control
/// characters (which no registry accepts, and which would split a
/// command line that names it).
fn checked_image(
    path: &str,
    image: &Spanned<String>,
    errors: &mut Collector<'_>,
) -> Option<String> {
    let text = image.get_ref();
    if text.is_empty() || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        errors.push(
            Some(image.span()),
            format!("{path}.image"),
            format!("{text:?} is not an image name"),
            Some("write a reference such as \"postgres:16\" or \"ghcr.io/acme/api:1.4\"".into()),
        );
        return None;
    }
    Some(text.clone())
}

/// `build`: its context must be a directory (relative to the config file).
fn checked_build(
    path: &str,
    build: &Spanned<RawBuild>,
    cx: &Context<'_>,
    errors: &mut Collector<'_>,
) -> Option<BuildSpec> {
    let (context, dockerfile) = match build.get_ref() {
        RawBuild::Context(context) => (context.clone(), None),
        RawBuild::Table(table) => (table.context.clone(), table.dockerfile.clone()),
    };
    let dir = cx.base_dir.join(&context);
    if context.contains('\0') || !dir.is_dir() {
        errors.push(
            Some(build.span()),
            format!("{path}.build"),
            format!("build context {} is not a directory", dir.display()),
            Some("paths are relative to the config file's directory".into()),
        );
        return None;
    }
    Some(BuildSpec {
        context: dir,
        written: context,
        dockerfile,
    })
}
