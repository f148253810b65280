//! ELB trust stores and listeners' mutual authentication, emulated by the test proxy:
//! moto 5.2.1 has no trust store API and ignores `MutualAuthentication`. The proxy
//! answers `CreateTrustStore`, `DescribeTrustStores`, `ModifyTrustStore`,
//! `DeleteTrustStore` and the tag calls on trust store ARNs in ELB's XML from the state
//! kept here, after checking in moto's S3 that the bundle object exists (AWS fails
//! with `CaCertificatesBundleNotFound` otherwise); it keeps what `ModifyListener` sets
//! as `MutualAuthentication` and writes it into moto's `DescribeListeners` and
//! `ModifyListener` answers (docs/testing.md).

use std::collections::BTreeMap;

const XMLNS: &str = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/";

/// One emulated trust store.
#[derive(Debug, Clone)]
struct Store {
    name: String,
    certificates: usize,
    tags: BTreeMap<String, String>,
    /// Reported `CREATING` once more (the next describe) after a create or modify, so
    /// that albkit's waiter meets the state AWS reports first.
    creating: bool,
}

/// The emulated state: trust stores by ARN, listeners' mutual authentication by ARN.
#[derive(Debug, Default)]
pub(crate) struct TrustStores {
    stores: BTreeMap<String, Store>,
    /// `(mode, trust store ARN)` as the last `ModifyListener` set them.
    listeners: BTreeMap<String, (String, Option<String>)>,
    created: u64,
}

/// A request the emulation answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Call {
    Create {
        name: String,
        bucket: String,
        key: String,
        tags: BTreeMap<String, String>,
    },
    Describe {
        names: Vec<String>,
        arns: Vec<String>,
    },
    Modify {
        arn: String,
        bucket: String,
        key: String,
    },
    Delete {
        arn: String,
    },
    AddTags {
        arns: Vec<String>,
        tags: BTreeMap<String, String>,
    },
    RemoveTags {
        arns: Vec<String>,
        keys: Vec<String>,
    },
    DescribeTags {
        arns: Vec<String>,
    },
}

impl Call {
    /// The S3 object a create or modify reads: `(bucket, key)`.
    pub(crate) fn bundle(&self) -> Option<(&str, &str)> {
        match self {
            Call::Create { bucket, key, .. } | Call::Modify { bucket, key, .. } => {
                Some((bucket, key))
            }
            _ => None,
        }
    }
}

/// The decoded value of `key` in a form body.
fn value(form: &str, key: &str) -> Option<String> {
    form.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == key).then(|| {
            urlencoding::decode(&v.replace('+', " "))
                .map_or_else(|_| v.to_string(), std::borrow::Cow::into_owned)
        })
    })
}

/// `prefix.member.1`, `prefix.member.2`, … in order.
fn members(form: &str, prefix: &str) -> Vec<String> {
    (1..)
        .map_while(|i| value(form, &format!("{prefix}.member.{i}")))
        .collect()
}

fn tags(form: &str) -> BTreeMap<String, String> {
    (1..)
        .map_while(|i| {
            let key = value(form, &format!("Tags.member.{i}.Key"))?;
            let val = value(form, &format!("Tags.member.{i}.Value")).unwrap_or_default();
            Some((key, val))
        })
        .collect()
}

fn is_store(arn: &str) -> bool {
    arn.contains(":truststore/")
}

/// The emulated call in an ELB request, if it is one: the trust store operations, and
/// the tag operations when every ARN they name is a trust store's. Pure.
pub(crate) fn call_of(op: &str, form: &str) -> Option<Call> {
    let all_stores = |arns: &[String]| !arns.is_empty() && arns.iter().all(|a| is_store(a));
    Some(match op {
        "CreateTrustStore" => Call::Create {
            name: value(form, "Name")?,
            bucket: value(form, "CaCertificatesBundleS3Bucket")?,
            key: value(form, "CaCertificatesBundleS3Key")?,
            tags: tags(form),
        },
        "DescribeTrustStores" => Call::Describe {
            names: members(form, "Names"),
            arns: members(form, "TrustStoreArns"),
        },
        "ModifyTrustStore" => Call::Modify {
            arn: value(form, "TrustStoreArn")?,
            bucket: value(form, "CaCertificatesBundleS3Bucket")?,
            key: value(form, "CaCertificatesBundleS3Key")?,
        },
        "DeleteTrustStore" => Call::Delete {
            arn: value(form, "TrustStoreArn")?,
        },
        "AddTags" | "RemoveTags" | "DescribeTags" => {
            let arns = members(form, "ResourceArns");
            if !all_stores(&arns) {
                return None;
            }
            match op {
                "AddTags" => Call::AddTags {
                    arns,
                    tags: tags(form),
                },
                "RemoveTags" => Call::RemoveTags {
                    arns,
                    keys: members(form, "TagKeys"),
                },
                _ => Call::DescribeTags { arns },
            }
        }
        _ => return None,
    })
}

/// An emulated answer: `Ok(xml)`, or `Err((status, code, message))` in ELB's error form.
pub(crate) type Answer = Result<String, (u16, &'static str, String)>;

fn response(op: &str, result: &str) -> String {
    format!(
        "<{op}Response xmlns=\"{XMLNS}\"><{op}Result>{result}</{op}Result>\
         <ResponseMetadata><RequestId>proxy</RequestId></ResponseMetadata></{op}Response>"
    )
}

fn not_found(what: &str) -> (u16, &'static str, String) {
    (
        400,
        "TrustStoreNotFound",
        format!("One or more trust stores not found: {what}"),
    )
}

/// How many `CERTIFICATE` blocks a bundle holds.
pub(crate) fn certificates_in(pem: &[u8]) -> usize {
    String::from_utf8_lossy(pem)
        .matches("-----BEGIN CERTIFICATE-----")
        .count()
}

impl TrustStores {
    fn member(&mut self, arn: &str) -> String {
        let Some(s) = self.stores.get_mut(arn) else {
            return String::new();
        };
        let status = if std::mem::replace(&mut s.creating, false) {
            "CREATING"
        } else {
            "ACTIVE"
        };
        format!(
            "<member><Name>{}</Name><TrustStoreArn>{arn}</TrustStoreArn><Status>{status}</Status>\
             <NumberOfCaCertificates>{}</NumberOfCaCertificates>\
             <TotalRevokedEntries>0</TotalRevokedEntries></member>",
            s.name, s.certificates
        )
    }

    /// Answers `call`. `bundle` is the bundle object read from moto's S3 for a create
    /// or modify (`None`: it does not exist); `region` is the request's.
    pub(crate) fn answer(&mut self, call: Call, bundle: Option<&[u8]>, region: &str) -> Answer {
        if let Some((bucket, key)) = call.bundle() {
            if bundle.is_none() {
                return Err((
                    400,
                    "CaCertificatesBundleNotFound",
                    format!(
                        "The specified CA certificates bundle does not exist: s3://{bucket}/{key}"
                    ),
                ));
            }
        }
        let certificates = bundle.map_or(0, certificates_in);
        match call {
            Call::Create { name, tags, .. } => self.create(name, tags, certificates, region),
            Call::Describe { names, arns } => self.describe(&names, &arns),
            Call::Modify { arn, .. } => {
                let store = self.stores.get_mut(&arn).ok_or_else(|| not_found(&arn))?;
                store.certificates = certificates;
                Ok(response(
                    "ModifyTrustStore",
                    &format!("<TrustStores>{}</TrustStores>", self.reported(&arn)),
                ))
            }
            Call::Delete { arn } => self.delete(&arn),
            Call::AddTags { arns, tags } => {
                for arn in &arns {
                    let store = self.stores.get_mut(arn).ok_or_else(|| not_found(arn))?;
                    store.tags.extend(tags.clone());
                }
                Ok(response("AddTags", ""))
            }
            Call::RemoveTags { arns, keys } => {
                for arn in &arns {
                    let store = self.stores.get_mut(arn).ok_or_else(|| not_found(arn))?;
                    store.tags.retain(|k, _| !keys.contains(k));
                }
                Ok(response("RemoveTags", ""))
            }
            Call::DescribeTags { arns } => self.describe_tags(&arns),
        }
    }

    /// The member of a store just created or modified: `CREATING`, and so is the next
    /// describe of it.
    fn reported(&mut self, arn: &str) -> String {
        if let Some(s) = self.stores.get_mut(arn) {
            s.creating = true;
        }
        let member = self.member(arn);
        if let Some(s) = self.stores.get_mut(arn) {
            s.creating = true;
        }
        member
    }

    fn create(
        &mut self,
        name: String,
        tags: BTreeMap<String, String>,
        certificates: usize,
        region: &str,
    ) -> Answer {
        if self.stores.values().any(|s| s.name == name) {
            return Err((
                400,
                "DuplicateTrustStoreName",
                format!("A trust store with the name '{name}' already exists"),
            ));
        }
        self.created += 1;
        let arn = format!(
            "arn:aws:elasticloadbalancing:{region}:123456789012:truststore/{name}/{:016x}",
            self.created
        );
        let store = Store {
            name,
            certificates,
            tags,
            creating: true,
        };
        self.stores.insert(arn.clone(), store);
        Ok(response(
            "CreateTrustStore",
            &format!("<TrustStores>{}</TrustStores>", self.reported(&arn)),
        ))
    }

    fn describe(&mut self, names: &[String], arns: &[String]) -> Answer {
        let mut found = Vec::new();
        for name in names {
            let arn = self.stores.iter().find(|(_, s)| s.name == *name);
            found.push(arn.map(|(a, _)| a.clone()).ok_or_else(|| not_found(name))?);
        }
        for arn in arns {
            if !self.stores.contains_key(arn) {
                return Err(not_found(arn));
            }
            found.push(arn.clone());
        }
        if names.is_empty() && arns.is_empty() {
            found = self.stores.keys().cloned().collect();
        }
        let members: String = found.iter().map(|a| self.member(a)).collect();
        Ok(response(
            "DescribeTrustStores",
            &format!("<TrustStores>{members}</TrustStores>"),
        ))
    }

    fn delete(&mut self, arn: &str) -> Answer {
        if !self.stores.contains_key(arn) {
            return Err(not_found(arn));
        }
        if self
            .listeners
            .values()
            .any(|(_, store)| store.as_deref() == Some(arn))
        {
            return Err((
                400,
                "TrustStoreInUse",
                format!("Trust store '{arn}' is in use by a listener"),
            ));
        }
        self.stores.remove(arn);
        Ok(response("DeleteTrustStore", ""))
    }

    fn describe_tags(&self, arns: &[String]) -> Answer {
        let mut out = String::new();
        for arn in arns {
            let store = self.stores.get(arn).ok_or_else(|| not_found(arn))?;
            let tags: String = store
                .tags
                .iter()
                .map(|(k, v)| format!("<member><Key>{k}</Key><Value>{v}</Value></member>"))
                .collect();
            out.push_str(&format!(
                "<member><ResourceArn>{arn}</ResourceArn><Tags>{tags}</Tags></member>"
            ));
        }
        Ok(response(
            "DescribeTags",
            &format!("<TagDescriptions>{out}</TagDescriptions>"),
        ))
    }

    /// A `ModifyListener` setting `MutualAuthentication`: refused (as AWS does) when
    /// verify names no trust store or one that does not exist; `None` when the request
    /// sets no mutual authentication or may go on to moto.
    pub(crate) fn check_listener(&self, form: &str) -> Option<(u16, &'static str, String)> {
        let mode = value(form, "MutualAuthentication.Mode")?;
        let store = value(form, "MutualAuthentication.TrustStoreArn");
        match (mode.as_str(), store) {
            ("verify", Some(arn)) if self.stores.contains_key(&arn) => None,
            ("verify", Some(arn)) => Some(not_found(&arn)),
            ("verify", None) => Some((
                400,
                "ValidationError",
                "A trust store is required in verify mode".to_string(),
            )),
            _ => None,
        }
    }

    /// Keeps what a successful `ModifyListener` set.
    pub(crate) fn listener_modified(&mut self, form: &str) {
        let (Some(arn), Some(mode)) = (
            value(form, "ListenerArn"),
            value(form, "MutualAuthentication.Mode"),
        ) else {
            return;
        };
        let store = value(form, "MutualAuthentication.TrustStoreArn").filter(|_| mode == "verify");
        self.listeners.insert(arn, (mode, store));
    }

    /// Forgets the listeners deleted with `DeleteListener` (`form`'s `ListenerArn`) or
    /// with their load balancer (`LoadBalancerArn`).
    pub(crate) fn deleted(&mut self, form: &str) {
        if let Some(arn) = value(form, "ListenerArn") {
            self.listeners.remove(&arn);
        }
        if let Some(lb) = value(form, "LoadBalancerArn") {
            // `…:loadbalancer/app/<name>/<id>` → its listeners' `…:listener/app/<name>/<id>/…`.
            if let Some((_, tail)) = lb.split_once(":loadbalancer/") {
                let tail = format!("/{tail}/");
                self.listeners.retain(|arn, _| !arn.contains(&tail));
            }
        }
    }

    /// moto's `DescribeListeners` or `ModifyListener` answer with each listener's
    /// mutual authentication written in, as AWS reports it. Pure.
    pub(crate) fn inject(&self, xml: &str) -> String {
        let mut out = xml.to_string();
        for (arn, (mode, store)) in &self.listeners {
            let needle = format!("<ListenerArn>{arn}</ListenerArn>");
            let store = store
                .as_ref()
                .map(|s| format!("<TrustStoreArn>{s}</TrustStoreArn>"))
                .unwrap_or_default();
            let attributes = format!(
                "<MutualAuthentication><Mode>{mode}</Mode>{store}\
                 <IgnoreClientCertificateExpiry>false</IgnoreClientCertificateExpiry>\
                 </MutualAuthentication>"
            );
            out = out.replace(&needle, &format!("{needle}{attributes}"));
        }
        out
    }
}

#[test]
fn trust_stores_are_created_described_tagged_and_deleted_as_elb_answers() {
    let mut t = TrustStores::default();
    let form = "Action=CreateTrustStore&Name=shop-mtls&CaCertificatesBundleS3Bucket=b\
                &CaCertificatesBundleS3Key=mtls%2Fa.pem&Tags.member.1.Key=albkit%3Astack\
                &Tags.member.1.Value=shop";
    let call = call_of("CreateTrustStore", form).expect("emulated");
    assert_eq!(call.bundle(), Some(("b", "mtls/a.pem")));
    let missing = t.answer(call.clone(), None, "us-east-1").unwrap_err();
    assert_eq!(missing.1, "CaCertificatesBundleNotFound");
    let pem = b"-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n";
    let xml = t
        .answer(call.clone(), Some(pem), "us-east-1")
        .expect("created");
    assert!(xml.contains("<Status>CREATING</Status>"), "{xml}");
    let arn =
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:truststore/shop-mtls/0000000000000001";
    assert!(xml.contains(arn), "{xml}");
    assert_eq!(
        t.answer(call, Some(pem), "us-east-1").unwrap_err().1,
        "DuplicateTrustStoreName"
    );
    let describe = call_of("DescribeTrustStores", "Names.member.1=shop-mtls").expect("emulated");
    assert!(t
        .answer(describe.clone(), None, "r")
        .expect("ok")
        .contains("CREATING"));
    assert!(t
        .answer(describe, None, "r")
        .expect("ok")
        .contains("ACTIVE"));
    let tags = call_of("DescribeTags", &format!("ResourceArns.member.1={arn}")).expect("emulated");
    assert!(t
        .answer(tags, None, "r")
        .expect("ok")
        .contains("<Key>albkit:stack</Key><Value>shop</Value>"));
    assert_eq!(
        call_of("DescribeTags", "ResourceArns.member.1=arn:listener/x"),
        None
    );
    let verify = format!(
        "ListenerArn=l1&MutualAuthentication.Mode=verify&MutualAuthentication.TrustStoreArn={arn}"
    );
    assert_eq!(t.check_listener(&verify), None);
    t.listener_modified(&verify);
    let injected = t.inject("<member><ListenerArn>l1</ListenerArn><Port>443</Port></member>");
    assert!(injected.contains(&format!(
        "<Mode>verify</Mode><TrustStoreArn>{arn}</TrustStoreArn>"
    )));
    let delete = call_of("DeleteTrustStore", &format!("TrustStoreArn={arn}")).expect("emulated");
    assert_eq!(
        t.answer(delete.clone(), None, "r").unwrap_err().1,
        "TrustStoreInUse"
    );
    t.listener_modified("ListenerArn=l1&MutualAuthentication.Mode=off");
    t.answer(delete.clone(), None, "r").expect("deleted");
    assert_eq!(
        t.answer(delete, None, "r").unwrap_err().1,
        "TrustStoreNotFound"
    );
}
