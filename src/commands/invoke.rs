//! `albkit invoke`: sends a synthetic ALB request event (shaped as a real ALB's, in the
//! target group's single- or multi-value form) to the deployed function's `live` alias,
//! or with `--local` to the locally built bootstrap under a local Runtime API, and prints
//! the HTTP response the load balancer would send.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::code::{invoke, live, Light};
use super::print_json;
use crate::aws::error::AwsResultExt;
use crate::cli::Cli;
use crate::error::{Error, Result};
use crate::local::{FunctionEnv, LocalRuntime};
use crate::model::alb_event::{parse_response, request_event, trace_id, Request, Response};
use crate::model::lifecycle::InvokeOutcome;
use crate::model::names::LIVE_ALIAS;
use crate::package;

pub struct Options<'a> {
    pub function: Option<&'a str>,
    pub path: &'a str,
    pub method: &'a str,
    pub headers: &'a [String],
    pub body: Option<&'a str>,
    pub local: bool,
}

fn request(o: &Options<'_>) -> Result<Request> {
    if !o.path.starts_with('/') {
        return Err(Error::usage(
            format!("--path {:?} must start with '/'", o.path),
            "for example --path '/hello?name=world'",
        ));
    }
    let mut req = Request::new(o.method, o.path);
    for h in o.headers {
        let Some((k, v)) = h.split_once(':') else {
            return Err(Error::usage(
                format!("--header {h:?} is not NAME:VALUE"),
                "for example --header 'content-type: application/json'",
            ));
        };
        req.headers
            .push((k.trim().to_string(), v.trim().to_string()));
    }
    if let Some(body) = o.body {
        req.body = body.as_bytes().to_vec();
    }
    Ok(req)
}

/// Turns the invoke result into what the client would get (function errors and invalid
/// responses become the ALB's 502), or an error when the result is unusable.
fn to_http(
    outcome: InvokeOutcome,
    multi: bool,
    emulated: bool,
) -> Result<(Response, Option<String>)> {
    match outcome {
        InvokeOutcome::CallFailed(why) => Err(Error::Other(format!(
            "the function could not be invoked: {why}"
        ))),
        InvokeOutcome::Answered {
            function_error: Some(kind),
            payload,
        } => {
            let text = String::from_utf8_lossy(&payload).into_owned();
            let is_lambda_error = serde_json::from_slice::<serde_json::Value>(&payload)
                .ok()
                .is_some_and(|v| v.get("errorType").is_some() || v.get("errorMessage").is_some());
            if emulated && !is_lambda_error {
                return Err(unusable(&text));
            }
            Ok((Response::bad_gateway(), Some(format!("{kind}: {text}"))))
        }
        InvokeOutcome::Answered {
            function_error: None,
            payload,
        } => match parse_response(&payload, multi) {
            Ok(r) => Ok((r, None)),
            Err(_) if emulated => Err(unusable(&String::from_utf8_lossy(&payload))),
            Err(e) => Ok((Response::bad_gateway(), Some(e.to_string()))),
        },
    }
}

fn unusable(text: &str) -> Error {
    Error::usage(
        format!(
            "the AWS endpoint answered the invoke, but not with a Lambda response (it probably does not run function code, as moto without Docker): {}",
            text.chars().take(300).collect::<String>()
        ),
        "run the function locally with `albkit invoke --local`, or invoke it on AWS",
    )
}

pub async fn run(cli: &Cli, o: Options<'_>) -> Result<u8> {
    let s = Light::open(cli).await?;
    let functions = s.select(o.function)?;
    let [f] = functions.as_slice() else {
        return Err(Error::usage(
            "the stack has several functions: say which one to invoke",
            "add --function NAME",
        ));
    };
    let req = request(&o)?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let trace = trace_id(now, rand::random());
    let name = s.names.function(&f.name);
    let limit = Duration::from_secs(u64::from(f.timeout_seconds) + 5);
    let (outcome, multi, emulated) = if o.local {
        let multi = f.multi_value_headers;
        let tg = format!(
            "arn:aws:elasticloadbalancing:{}:000000000000:targetgroup/{}/0000000000000000",
            s.aws.region,
            s.names.target_group(&f.name)
        );
        let event = request_event(&tg, &req, multi, &trace);
        s.phase(format!("Building function {} (release)", f.name));
        let artifact = package::build(f).await?;
        let bootstrap = artifact.bootstrap.clone();
        let env = f.environment.clone();
        let (fname, memory, timeout, region) = (
            name.clone(),
            f.memory_mb,
            f.timeout_seconds,
            s.aws.region.clone(),
        );
        let body = serde_json::to_vec(&event).unwrap_or_default();
        let outcome = tokio::task::spawn_blocking(move || {
            let mut rt = LocalRuntime::start(
                &bootstrap,
                &FunctionEnv {
                    function_name: &fname,
                    memory_mb: memory,
                    timeout_seconds: timeout,
                    region: &region,
                    environment: &env,
                },
            )
            .map_err(|e| format!("could not start {}: {e}", bootstrap.display()))?;
            rt.invoke(&body, limit)
        })
        .await
        .map_err(|e| Error::Other(e.to_string()))?
        .map_err(|why| {
            Error::usage(
                format!("function {} did not answer locally: {why}", f.name),
                "its output above shows why; `cargo run` in the function's directory reproduces a start-up failure",
            )
        })?;
        (outcome, multi, false)
    } else {
        // The target group's real ARN and multi-value setting, as the ALB would send them.
        let tg_name = s.names.target_group(&f.name);
        let tgs = s
            .aws
            .elb
            .describe_target_groups()
            .names(&tg_name)
            .send()
            .await
            .aws("DescribeTargetGroups", &tg_name);
        let tg_arn = match tgs {
            Ok(out) => out
                .target_groups()
                .first()
                .and_then(|t| t.target_group_arn())
                .unwrap_or_default()
                .to_string(),
            Err(e) if e.not_found() || e.is("TargetGroupNotFound") => {
                return Err(Error::usage(
                    format!("target group {tg_name} does not exist: {e}"),
                    "create the stack with `albkit up` first",
                ))
            }
            Err(e) => return Err(e.into()),
        };
        let attrs = s
            .aws
            .elb
            .describe_target_group_attributes()
            .target_group_arn(&tg_arn)
            .send()
            .await
            .aws("DescribeTargetGroupAttributes", &tg_name)?;
        let multi = attrs
            .attributes()
            .iter()
            .find(|a| a.key() == Some("lambda.multi_value_headers.enabled"))
            .and_then(|a| a.value())
            == Some("true");
        let event = request_event(&tg_arn, &req, multi, &trace);
        // A clear error when there is nothing deployed yet.
        live(&s.aws, &f.name, &name).await?;
        (
            invoke(&s.aws, &name, LIVE_ALIAS, &event, limit).await,
            multi,
            s.aws.custom_endpoint,
        )
    };
    let (response, problem) = to_http(outcome, multi, emulated)?;
    let body = String::from_utf8_lossy(&response.body).into_owned();
    if s.json {
        print_json(&serde_json::json!({
            "function": f.name,
            "local": o.local,
            "status": response.status,
            "headers": response.headers.iter().map(|(k, v)| serde_json::json!([k, v])).collect::<Vec<_>>(),
            "body": body,
            "error": problem,
        }));
    } else {
        if let Some(p) = &problem {
            eprintln!("The load balancer would answer 502: {p}");
        }
        println!(
            "HTTP/1.1 {} {}",
            response.status,
            response.status_description.as_deref().unwrap_or("")
        );
        for (k, v) in &response.headers {
            println!("{k}: {v}");
        }
        println!();
        println!("{body}");
    }
    Ok(if response.status >= 500 { 1 } else { 0 })
}
