//! The project templates `albkit init` writes, embedded in the binary (`templates/`).
//! Rendering replaces `{{stack}}` with the stack name. Pure: no file system access.

/// One file of a template: its path in the project and its text.
#[derive(Debug, Clone, Copy)]
pub struct File {
    pub path: &'static str,
    pub contents: &'static str,
}

#[derive(Debug, Clone, Copy)]
pub struct Template {
    pub name: &'static str,
    pub description: &'static str,
    pub files: &'static [File],
}

macro_rules! file {
    ($template:literal, $path:literal) => {
        File {
            path: $path,
            contents: include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/templates/",
                $template,
                "/",
                $path
            )),
        }
    };
}

pub const PLACEHOLDER: &str = "{{stack}}";

pub const TEMPLATES: &[Template] = &[
    Template {
        name: "hello",
        description: "answers GET /hello and GET /health (internet-facing)",
        files: &[
            file!("hello", "albkit.toml"),
            file!("hello", "functions/hello/.gitignore"),
            file!("hello", "functions/hello/Cargo.lock"),
            file!("hello", "functions/hello/Cargo.toml"),
            file!("hello", "functions/hello/src/main.rs"),
        ],
    },
    Template {
        name: "echo",
        description: "returns the request it received as JSON, to learn the ALB event shape; CORS from CORS_ALLOW_ORIGIN",
        files: &[
            file!("echo", "albkit.toml"),
            file!("echo", "functions/echo/.gitignore"),
            file!("echo", "functions/echo/Cargo.lock"),
            file!("echo", "functions/echo/Cargo.toml"),
            file!("echo", "functions/echo/src/main.rs"),
        ],
    },
    Template {
        name: "internal-api",
        description: "internal ALB (VPC only), health check on /internal/health, JSON routes with path parameters",
        files: &[
            file!("internal-api", "albkit.toml"),
            file!("internal-api", "functions/api/.gitignore"),
            file!("internal-api", "functions/api/Cargo.lock"),
            file!("internal-api", "functions/api/Cargo.toml"),
            file!("internal-api", "functions/api/src/main.rs"),
        ],
    },
];

pub fn find(name: &str) -> Option<&'static Template> {
    TEMPLATES.iter().find(|t| t.name == name)
}

/// The template's files for stack `stack`: (relative path, contents).
pub fn render(template: &Template, stack: &str) -> Vec<(&'static str, String)> {
    template
        .files
        .iter()
        .map(|f| (f.path, f.contents.replace(PLACEHOLDER, stack)))
        .collect()
}

/// A stack name derived from a directory name: lowercase `[a-z0-9-]`, starting with a
/// letter, at most 24 characters; `None` when nothing usable is left.
pub fn stack_name_from(dir: &str) -> Option<String> {
    let mut name: String = dir
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    name = name
        .trim_start_matches(|c: char| !c.is_ascii_lowercase())
        .to_string();
    name.truncate(24);
    let name = name.trim_end_matches('-').to_string();
    let mut collapsed = String::new();
    for c in name.chars() {
        if !(c == '-' && collapsed.ends_with('-')) {
            collapsed.push(c);
        }
    }
    (!collapsed.is_empty()).then_some(collapsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_renders_a_valid_project() {
        for t in TEMPLATES {
            let dir = tempfile::tempdir().expect("tempdir");
            let files = render(t, "my-stack");
            for (path, text) in &files {
                assert!(!text.contains(PLACEHOLDER), "{}/{path}", t.name);
                let full = dir.path().join(path);
                std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
                std::fs::write(&full, text).expect("write");
            }
            let config = crate::model::validate::load(&dir.path().join("albkit.toml"))
                .unwrap_or_else(|e| panic!("template {}: {e:?}", t.name));
            assert_eq!(config.stack.name, "my-stack");
            assert_eq!(config.functions.len(), 1, "{}", t.name);
            let f = &config.functions[0];
            assert!(f.path.join("Cargo.toml").is_file(), "{}", t.name);
            assert!(f.path.join("src/main.rs").is_file(), "{}", t.name);
            let cargo = std::fs::read_to_string(f.path.join("Cargo.toml")).expect("Cargo.toml");
            assert!(
                cargo.contains(&format!("name = \"my-stack-{}\"", f.name)),
                "{cargo}"
            );
            for key in [
                "[workspace]",
                "lto = true",
                "codegen-units = 1",
                "strip = true",
                "panic = \"abort\"",
            ] {
                assert!(
                    cargo.contains(key),
                    "template {}: Cargo.toml lacks {key}",
                    t.name
                );
            }
            assert!(f.health_check.is_some(), "{}", t.name);
        }
    }

    #[test]
    fn internal_api_is_internal_with_its_health_check() {
        let t = find("internal-api").expect("template");
        let toml = &render(t, "x")[0];
        assert_eq!(toml.0, "albkit.toml");
        assert!(toml.1.contains("\nscheme = \"internal\""));
        assert!(toml.1.contains("path = \"/internal/health\""));
        assert!(find("nope").is_none());
    }

    /// The template's commented JWT example is valid once `[https]` is switched on.
    #[test]
    fn internal_api_shows_a_valid_jwt_route() {
        let t = find("internal-api").expect("template");
        let dir = tempfile::tempdir().expect("tempdir");
        for (path, text) in render(t, "x") {
            let target = dir.path().join(path);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).expect("mkdir");
            }
            let text = text
                .replace("# [https]", "[https]")
                .replace("# domain = ", "domain = ")
                .replace("# auth = { jwt", "auth = { jwt");
            std::fs::write(target, text).expect("write");
        }
        let config = crate::model::validate::load(&dir.path().join("albkit.toml"))
            .unwrap_or_else(|e| panic!("{e:?}"));
        let route = &config.functions[0].routes[0];
        let Some(crate::model::config::RouteAuth::Jwt(jwt)) = config.route_auth(route) else {
            panic!("no JWT route: {route:?}");
        };
        assert_eq!(jwt.audiences, ["internal-api"]);
    }

    #[test]
    fn stack_names_from_directories() {
        assert_eq!(stack_name_from("My_App").as_deref(), Some("my-app"));
        assert_eq!(stack_name_from("42-things").as_deref(), Some("things"));
        assert_eq!(stack_name_from("a--b__").as_deref(), Some("a-b"));
        assert_eq!(stack_name_from("123"), None);
        assert_eq!(
            stack_name_from("a-very-long-directory-name-indeed").as_deref(),
            Some("a-very-long-directory-na")
        );
    }
}
