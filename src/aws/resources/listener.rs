//! Listeners: HTTP :80 (redirect to HTTPS, or the fixed 404) and HTTPS :443, which also
//! adds response headers to every response (`Strict-Transport-Security`, CORS, the
//! security headers: listener attributes, docs/alb-lambda.md §11).

use std::collections::HashMap;

use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, Certificate, FixedResponseActionConfig, Listener, ListenerAttribute,
    MutualAuthenticationAttributes, ProtocolEnum, RedirectActionConfig,
    RedirectActionStatusCodeEnum,
};

use super::elb::{read_tags, retag, to_tags};
use super::{as_found, logical_of, teardown, Ctx, Teardown};
use crate::aws::error::{AwsError, AwsResultExt, ResourceError};
use crate::aws::retry::{retry, Policy};
use crate::model::found::Found;
use crate::model::headers::ResponseHeaders;
use crate::model::names::logical;
use crate::model::plan::{Change, Observed};
use crate::model::spec::{
    DefaultAction, ListenerSpec, ListenerTls, Props, Ref, Spec, MTLS_OFF, MTLS_VERIFY,
};
use crate::model::stack::NOT_FOUND_BODY;

/// The response headers an HTTPS listener inserts, from its attributes.
async fn read_headers(ctx: &Ctx<'_>, arn: &str) -> Result<ResponseHeaders, AwsError> {
    let out = retry(
        Policy::transient(),
        "read listener attributes",
        &ctx.notify("listener"),
        || async {
            ctx.aws
                .elb
                .describe_listener_attributes()
                .listener_arn(arn)
                .send()
                .await
                .aws("DescribeListenerAttributes", arn)
        },
    )
    .await?;
    Ok(headers_of(out.attributes()))
}

/// The response headers in a listener's attributes.
pub(crate) fn headers_of(attributes: &[ListenerAttribute]) -> ResponseHeaders {
    ResponseHeaders::from_attributes(
        attributes
            .iter()
            .filter_map(|a| Some((a.key()?, a.value().unwrap_or_default()))),
    )
}

/// Sets every response-header attribute of an HTTPS listener in one call: the headers
/// it inserts, empty for those it does not, and whether it sends `Server`.
async fn write_headers(
    ctx: &Ctx<'_>,
    logical_id: &str,
    arn: &str,
    headers: &ResponseHeaders,
) -> Result<(), AwsError> {
    let attributes: Vec<ListenerAttribute> = headers
        .to_attributes()
        .into_iter()
        .map(|(k, v)| ListenerAttribute::builder().key(k).value(v).build())
        .collect();
    retry(
        Policy::fresh(),
        "set the listener's response headers",
        &ctx.notify(logical_id),
        || async {
            ctx.aws
                .elb
                .modify_listener_attributes()
                .listener_arn(arn)
                .set_attributes(Some(attributes.clone()))
                .send()
                .await
                .aws("ModifyListenerAttributes", arn)
        },
    )
    .await
    .map(|_| ())
}

/// Text form of an action, as the desired stack writes it.
pub(crate) fn render_action(a: &Action) -> String {
    match a.r#type() {
        Some(ActionTypeEnum::FixedResponse) => {
            let c = a.fixed_response_config();
            format!(
                "fixed-response {} {} {}",
                c.and_then(|c| c.status_code()).unwrap_or_default(),
                c.and_then(|c| c.content_type()).unwrap_or_default(),
                c.and_then(|c| c.message_body()).unwrap_or_default()
            )
        }
        Some(ActionTypeEnum::Redirect) => {
            let c = a.redirect_config();
            let get = |v: Option<&str>, d: &'static str| v.unwrap_or(d).to_string();
            format!(
                "redirect {} {}://{}:{}{}?{}",
                c.and_then(|c| c.status_code())
                    .map(
                        aws_sdk_elasticloadbalancingv2::types::RedirectActionStatusCodeEnum::as_str
                    )
                    .unwrap_or_default(),
                get(c.and_then(|c| c.protocol()), "#{protocol}").to_ascii_lowercase(),
                get(c.and_then(|c| c.host()), "#{host}"),
                get(c.and_then(|c| c.port()), "#{port}"),
                get(c.and_then(|c| c.path()), "/#{path}"),
                get(c.and_then(|c| c.query()), "#{query}"),
            )
        }
        Some(ActionTypeEnum::Forward) => {
            format!("forward -> {}", a.target_group_arn().unwrap_or_default())
        }
        Some(other) => other.as_str().to_string(),
        None => "none".into(),
    }
}

pub(crate) fn fixed_404() -> Action {
    Action::builder()
        .r#type(ActionTypeEnum::FixedResponse)
        .fixed_response_config(
            FixedResponseActionConfig::builder()
                .status_code("404")
                .content_type("application/json")
                .message_body(NOT_FOUND_BODY)
                .build(),
        )
        .build()
}

/// 301 to HTTPS on 443, keeping host, path and query.
pub(crate) fn redirect_to_https() -> Action {
    Action::builder()
        .r#type(ActionTypeEnum::Redirect)
        .redirect_config(
            RedirectActionConfig::builder()
                .protocol("HTTPS")
                .port("443")
                .host("#{host}")
                .path("/#{path}")
                .query("#{query}")
                .status_code(RedirectActionStatusCodeEnum::Http301)
                .build(),
        )
        .build()
}

/// The listeners of the load balancer, as AWS describes them.
pub(crate) async fn describe(
    ctx: &Ctx<'_>,
    lb_arn: &str,
) -> Result<Vec<aws_sdk_elasticloadbalancingv2::types::Listener>, AwsError> {
    let out = retry(
        Policy::transient(),
        "read listeners",
        &ctx.notify("listener"),
        || async {
            ctx.aws
                .elb
                .describe_listeners()
                .load_balancer_arn(lb_arn)
                .send()
                .await
                .aws("DescribeListeners", lb_arn)
        },
    )
    .await?;
    Ok(out.listeners().to_vec())
}

/// The listeners as observed, with their tags and, for HTTPS, their response headers
/// (read at the same time as the tags).
pub(crate) async fn observe(
    ctx: &Ctx<'_>,
    listeners: &[aws_sdk_elasticloadbalancingv2::types::Listener],
) -> Result<Vec<Found>, AwsError> {
    let arns: Vec<String> = listeners
        .iter()
        .filter_map(|l| l.listener_arn().map(str::to_string))
        .collect();
    let https = listeners
        .iter()
        .filter(|l| l.protocol() == Some(&ProtocolEnum::Https))
        .filter_map(|l| l.listener_arn());
    let headers = futures::future::try_join_all(
        https.map(|arn| async move { Ok::<_, AwsError>((arn, read_headers(ctx, arn).await?)) }),
    );
    let (tags, headers) = tokio::try_join!(read_tags(ctx, &arns), headers)?;
    let mut headers: HashMap<&str, ResponseHeaders> = headers.into_iter().collect();
    Ok(listeners
        .iter()
        .filter_map(|l| {
            let arn = l.listener_arn()?;
            let tags = tags.get(arn).cloned().unwrap_or_default();
            // An untagged listener on the stack's own load balancer is still the stack's:
            // name it by its port.
            let logical = logical_of(&tags).unwrap_or_else(|| match l.port() {
                Some(443) => logical::LISTENER_HTTPS.to_string(),
                Some(80) => logical::LISTENER_HTTP.to_string(),
                Some(p) => format!("listener/{p}"),
                None => "listener/unknown".to_string(),
            });
            let certificate = l.certificates().first().and_then(|c| c.certificate_arn());
            let (mode, trust_store) = mutual_authentication_of(l);
            let tls = (l.protocol() == Some(&ProtocolEnum::Https)).then(|| ListenerTls {
                certificate: Ref::External(certificate.unwrap_or_default().to_string()),
                ssl_policy: l.ssl_policy().unwrap_or_default().to_string(),
                headers: headers.remove(arn).unwrap_or_default(),
                trust_store,
            });
            let action = l.default_actions().first().map(render_action);
            let action = action.unwrap_or_default();
            let default_action = [DefaultAction::NotFound, DefaultAction::RedirectToHttps]
                .into_iter()
                .find(|a| a.text() == action);
            let spec = ListenerSpec {
                load_balancer: Ref::Stack(logical::LOAD_BALANCER.into()),
                port: l.port().and_then(|p| u16::try_from(p).ok()).unwrap_or(0),
                tls,
                default_action: default_action.unwrap_or(DefaultAction::NotFound),
                tags: tags.clone(),
            };
            let mut extras = Props::new();
            if let Some(tls) = &spec.tls {
                // A mode albkit never sets (`passthrough`) is shown as AWS has it.
                as_found(
                    &mut extras,
                    "mutual_authentication",
                    mode,
                    tls.mutual_authentication(),
                );
            }
            let protocol = l.protocol().map_or("", ProtocolEnum::as_str);
            as_found(&mut extras, "protocol", protocol, spec.protocol());
            // Another action (a forward to a target group, say) is shown as AWS has it.
            as_found(
                &mut extras,
                "default_action",
                action,
                spec.default_action.text(),
            );
            Some(Found::new(arn, logical, spec, tags).extras(extras))
        })
        .collect())
}

/// A listener's mutual authentication as the plan shows it (`off`, `verify <ARN>`, or
/// another mode by its name), and the trust store it verifies against. Pure.
fn mutual_authentication_of(l: &Listener) -> (String, Option<Ref>) {
    let m = l.mutual_authentication();
    match m.and_then(MutualAuthenticationAttributes::mode) {
        None | Some(MTLS_OFF) => (MTLS_OFF.to_string(), None),
        Some(MTLS_VERIFY) => {
            let store = m
                .and_then(MutualAuthenticationAttributes::trust_store_arn)
                .unwrap_or_default();
            (
                format!("{MTLS_VERIFY} {store}"),
                Some(Ref::External(store.to_string())),
            )
        }
        Some(other) => (other.to_string(), None),
    }
}

/// Whether a found listener verifies clients against a trust store.
pub(crate) fn verifies(found: &Found) -> bool {
    matches!(&found.spec, Spec::Listener(l) if l.tls.as_ref().is_some_and(|t| t.trust_store.is_some()))
}

/// Sets the HTTPS listener's mutual authentication: `verify` against the trust store,
/// or `off`.
async fn write_mutual_authentication(
    ctx: &Ctx<'_>,
    logical_id: &str,
    arn: &str,
    tls: &ListenerTls,
) -> Result<(), ResourceError> {
    let attributes = match &tls.trust_store {
        Some(store) => MutualAuthenticationAttributes::builder()
            .mode(MTLS_VERIFY)
            .trust_store_arn(ctx.ids.of(store)?)
            .build(),
        None => MutualAuthenticationAttributes::builder()
            .mode(MTLS_OFF)
            .build(),
    };
    retry(
        Policy::fresh(),
        "set the listener's mutual authentication",
        &ctx.notify(logical_id),
        || async {
            ctx.aws
                .elb
                .modify_listener()
                .listener_arn(arn)
                .mutual_authentication(attributes.clone())
                .send()
                .await
                .aws("ModifyListener", arn)
        },
    )
    .await?;
    Ok(())
}

/// The SDK form of a listener's default action.
fn default_action(action: DefaultAction) -> Action {
    match action {
        DefaultAction::NotFound => fixed_404(),
        DefaultAction::RedirectToHttps => redirect_to_https(),
    }
}

/// The certificate list and TLS policy of an HTTPS listener (none for HTTP).
fn tls_parts(ctx: &Ctx<'_>, want: &ListenerSpec) -> Result<TlsParts, ResourceError> {
    let Some(tls) = &want.tls else {
        return Ok((None, None));
    };
    let certificate = ctx.ids.of(&tls.certificate)?;
    Ok((
        Some(vec![Certificate::builder()
            .certificate_arn(certificate)
            .build()]),
        Some(tls.ssl_policy.clone()),
    ))
}

type TlsParts = (Option<Vec<Certificate>>, Option<String>);

fn protocol(want: &ListenerSpec) -> ProtocolEnum {
    ProtocolEnum::from(want.protocol())
}

/// The response headers the listener should insert (none for HTTP).
fn headers(want: &ListenerSpec) -> Option<&ResponseHeaders> {
    want.tls.as_ref().map(|t| &t.headers)
}

pub(crate) async fn apply(
    ctx: &Ctx<'_>,
    change: &Change,
    want: &ListenerSpec,
    have: Option<&Observed>,
) -> Result<String, ResourceError> {
    let Some(arn) = &change.id else {
        return create(ctx, change, want).await;
    };
    let notify = ctx.notify(&change.logical);
    if change.changed("tags") {
        retag(ctx, arn, change, have, &want.tags).await?;
    }
    if ["protocol", "certificate", "ssl_policy", "default_action"]
        .iter()
        .any(|f| change.changed(f))
    {
        let (certificates, ssl_policy) = tls_parts(ctx, want)?;
        let action = default_action(want.default_action);
        retry(Policy::fresh(), "update listener", &notify, || async {
            ctx.aws
                .elb
                .modify_listener()
                .listener_arn(arn)
                .default_actions(action.clone())
                .protocol(protocol(want))
                .set_certificates(certificates.clone())
                .set_ssl_policy(ssl_policy.clone())
                .send()
                .await
                .aws("ModifyListener", arn)
        })
        .await?;
    }
    let changed = change.changed("hsts") || change.changed("response_headers");
    if let Some(headers) = headers(want).filter(|_| changed) {
        write_headers(ctx, &change.logical, arn, headers).await?;
    }
    if let Some(tls) = want.tls.as_ref() {
        if change.changed("mutual_authentication") {
            write_mutual_authentication(ctx, &change.logical, arn, tls).await?;
        }
    }
    Ok(arn.clone())
}

async fn create(
    ctx: &Ctx<'_>,
    change: &Change,
    want: &ListenerSpec,
) -> Result<String, ResourceError> {
    let notify = ctx.notify(&change.logical);
    let lb = ctx.ids.of(&want.load_balancer)?;
    let (certificates, ssl_policy) = tls_parts(ctx, want)?;
    let action = default_action(want.default_action);
    // Listeners can be created while the load balancer is still provisioning.
    let out = retry(Policy::fresh(), "create listener", &notify, || async {
        ctx.aws
            .elb
            .create_listener()
            .load_balancer_arn(&lb)
            .port(i32::from(want.port))
            .protocol(protocol(want))
            .default_actions(action.clone())
            .set_tags(Some(to_tags(&want.tags)))
            .set_certificates(certificates.clone())
            .set_ssl_policy(ssl_policy.clone())
            .send()
            .await
            .aws("CreateListener", &change.logical)
    })
    .await;
    let arn = match out {
        Ok(out) => out
            .listeners()
            .first()
            .and_then(|l| l.listener_arn())
            .map(str::to_string)
            .ok_or_else(|| AwsError::incomplete("CreateListener", &change.logical, "listener ARN")),
        // An earlier attempt created it but its response was lost: take it if it
        // carries the stack's tags (tags are set in the same call).
        Err(e) if e.is("DuplicateListener") => adopt(ctx, &lb, &change.logical, want.port, e).await,
        Err(e) => Err(e),
    }?;
    // A new listener inserts no header until its attributes are set; a run stopped in
    // between leaves them off, which the next plan shows and repairs.
    if let Some(headers) = headers(want).filter(|h| **h != ResponseHeaders::default()) {
        write_headers(ctx, &change.logical, &arn, headers).await?;
    }
    // Likewise mutual authentication, set once the listener exists.
    if let Some(tls) = want.tls.as_ref().filter(|t| t.trust_store.is_some()) {
        write_mutual_authentication(ctx, &change.logical, &arn, tls).await?;
    }
    Ok(arn)
}

/// The listener an earlier, interrupted attempt created, if it is the stack's.
async fn adopt(
    ctx: &Ctx<'_>,
    lb: &str,
    logical_id: &str,
    port: u16,
    e: AwsError,
) -> Result<String, AwsError> {
    let existing = observe(ctx, &describe(ctx, lb).await?).await?;
    existing
        .into_iter()
        .find(|f| f.logical == logical_id && ctx.owns(&f.tags))
        .map(|f| f.id)
        .ok_or(AwsError {
            message: format!(
                "{} (a listener on port {port} exists but is not tagged for the stack)",
                e.message
            ),
            ..e
        })
}

pub(crate) async fn delete(ctx: &Ctx<'_>, have: &Observed, _: Teardown) -> Result<(), AwsError> {
    let arn = have.id.as_str();
    teardown(ctx, "listener", "delete listener", || async {
        ctx.aws
            .elb
            .delete_listener()
            .listener_arn(arn)
            .send()
            .await
            .aws("DeleteListener", arn)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::spec::DefaultAction;

    #[test]
    fn response_headers_are_read_from_the_listener_attributes() {
        use crate::model::headers::Inserted;
        let attr = |k: &str, v: &str| ListenerAttribute::builder().key(k).value(v).build();
        let h = headers_of(&[
            attr("routing.http.response.server.enabled", "false"),
            attr(
                "routing.http.response.strict_transport_security.header_value",
                "max-age=300",
            ),
            attr(
                "routing.http.response.access_control_allow_origin.header_value",
                "*",
            ),
            attr("routing.http.response.x_frame_options.header_value", ""),
            attr("tcp.idle_timeout.seconds", "350"),
        ]);
        assert_eq!(
            h.get(Inserted::StrictTransportSecurity),
            Some("max-age=300")
        );
        assert_eq!(h.get(Inserted::AccessControlAllowOrigin), Some("*"));
        assert_eq!(h.get(Inserted::XFrameOptions), None);
        assert!(!h.server);
        assert_eq!(headers_of(&[]), ResponseHeaders::default());
    }

    #[test]
    fn mutual_authentication_is_read_as_the_plan_shows_it() {
        let listener = |mode: Option<&str>, store: Option<&str>| {
            let mut l = Listener::builder();
            if let Some(mode) = mode {
                let m = MutualAuthenticationAttributes::builder()
                    .mode(mode)
                    .set_trust_store_arn(store.map(str::to_string))
                    .build();
                l = l.mutual_authentication(m);
            }
            mutual_authentication_of(&l.build())
        };
        assert_eq!(listener(None, None), ("off".to_string(), None));
        assert_eq!(listener(Some("off"), None), ("off".to_string(), None));
        assert_eq!(
            listener(Some("verify"), Some("arn:ts")),
            (
                "verify arn:ts".to_string(),
                Some(Ref::External("arn:ts".into()))
            )
        );
        assert_eq!(
            listener(Some("passthrough"), None),
            ("passthrough".to_string(), None)
        );
    }

    #[test]
    fn rendered_actions_match_the_desired_text() {
        assert_eq!(render_action(&fixed_404()), DefaultAction::NotFound.text());
        assert_eq!(
            render_action(&redirect_to_https()),
            DefaultAction::RedirectToHttps.text()
        );
    }
}
