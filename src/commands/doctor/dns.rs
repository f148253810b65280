//! The NS records of a name, asked of DNS: one query over UDP to each resolver in turn
//! (the system's, from /etc/resolv.conf, or `--resolver`), with a timeout. hickory-proto
//! builds and reads the messages; [`interpret`] turns an answer into what the check
//! decides on.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use tokio::net::UdpSocket;

use crate::model::doctor::NsAnswer;

/// How long one resolver has to answer.
const TIMEOUT: Duration = Duration::from_secs(3);

const RESOLV_CONF: &str = "/etc/resolv.conf";

/// The resolvers of /etc/resolv.conf, on port 53 (the local one when it names none).
pub(super) fn system_resolvers() -> Result<Vec<SocketAddr>, String> {
    let text = std::fs::read(RESOLV_CONF).map_err(|e| format!("cannot read {RESOLV_CONF}: {e}"))?;
    let conf = resolv_conf::Config::parse(&text)
        .map_err(|e| format!("cannot parse {RESOLV_CONF}: {e}"))?;
    Ok(conf
        .get_nameservers_or_local()
        .iter()
        .map(|ip| SocketAddr::new(ip.into(), 53))
        .collect())
}

/// The NS records of `name`, from the first resolver that answers.
pub(super) async fn ns_records(name: &str, resolvers: &[SocketAddr]) -> NsAnswer {
    let mut failures = Vec::new();
    for server in resolvers {
        match ask(name, *server).await {
            Ok(answer) => return answer,
            Err(why) => failures.push(format!("{server}: {why}")),
        }
    }
    if failures.is_empty() {
        failures.push("no resolver is configured".to_string());
    }
    NsAnswer::Unreachable(failures.join("; "))
}

/// One NS query to `server`, recursion desired.
async fn ask(name: &str, server: SocketAddr) -> Result<NsAnswer, String> {
    let fqdn = if name.ends_with('.') {
        name.to_string()
    } else {
        format!("{name}.")
    };
    let qname = Name::from_ascii(&fqdn).map_err(|e| format!("{name:?} is not a DNS name: {e}"))?;
    let mut query = Message::query();
    query.metadata.recursion_desired = true;
    query.add_query(Query::query(qname, RecordType::NS));
    let bytes = query
        .to_vec()
        .map_err(|e| format!("cannot encode the query: {e}"))?;
    let local = if server.is_ipv4() {
        SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0))
    } else {
        SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0))
    };
    let socket = UdpSocket::bind(local).await.map_err(|e| e.to_string())?;
    socket.connect(server).await.map_err(|e| e.to_string())?;
    socket.send(&bytes).await.map_err(|e| e.to_string())?;
    let reply = tokio::time::timeout(TIMEOUT, receive(&socket, query.metadata.id))
        .await
        .map_err(|_| format!("no answer within {} s", TIMEOUT.as_secs()))??;
    interpret(&reply)
}

/// The answer to query `id`; stray or unreadable datagrams are skipped.
async fn receive(socket: &UdpSocket, id: u16) -> Result<Message, String> {
    let mut buf = vec![0u8; 4096];
    loop {
        let n = socket.recv(&mut buf).await.map_err(|e| e.to_string())?;
        if let Ok(m) = Message::from_vec(buf.get(..n).unwrap_or_default()) {
            if m.metadata.id == id {
                return Ok(m);
            }
        }
    }
}

/// What an answer says about the delegation: its NS records, no such name, no NS
/// records; an error (`Err`) when the resolver could not answer.
pub(super) fn interpret(reply: &Message) -> Result<NsAnswer, String> {
    match reply.metadata.response_code {
        ResponseCode::NoError => {}
        ResponseCode::NXDomain => {
            return Ok(NsAnswer::NotDelegated(
                "DNS says the name does not exist (NXDOMAIN)".to_string(),
            ))
        }
        other => return Err(format!("the resolver answered {other}")),
    }
    let servers: Vec<String> = reply
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::NS(ns) => Some(ns.0.to_ascii()),
            _ => None,
        })
        .collect();
    if !servers.is_empty() {
        Ok(NsAnswer::Servers(servers))
    } else if reply.metadata.truncation {
        Err("the answer was truncated".to_string())
    } else {
        Ok(NsAnswer::NotDelegated(
            "DNS has no NS records for the name".to_string(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use hickory_proto::op::OpCode;
    use hickory_proto::rr::rdata::{NS, SOA};
    use hickory_proto::rr::Record;

    use super::*;

    fn name(s: &str) -> Name {
        Name::from_ascii(s).expect("name")
    }

    fn reply(code: ResponseCode) -> Message {
        Message::error_msg(7, OpCode::Query, code)
    }

    #[test]
    fn ns_answers_are_the_delegation() {
        let mut m = reply(ResponseCode::NoError);
        for ns in ["ns-1.awsdns-01.com.", "ns-2.awsdns-02.net."] {
            m.add_answer(Record::from_rdata(
                name("example.com."),
                300,
                RData::NS(NS(name(ns))),
            ));
        }
        let answer = interpret(&Message::from_vec(&m.to_vec().expect("encode")).expect("decode"));
        assert_eq!(
            answer,
            Ok(NsAnswer::Servers(vec![
                "ns-1.awsdns-01.com.".into(),
                "ns-2.awsdns-02.net.".into()
            ]))
        );
    }

    #[test]
    fn nxdomain_and_an_empty_answer_are_no_delegation() {
        assert!(matches!(
            interpret(&reply(ResponseCode::NXDomain)),
            Ok(NsAnswer::NotDelegated(w)) if w.contains("NXDOMAIN")
        ));
        let mut m = reply(ResponseCode::NoError);
        let soa = SOA::new(name("a.example."), name("h.example."), 1, 2, 3, 4, 5);
        m.add_authority(Record::from_rdata(name("com."), 60, RData::SOA(soa)));
        assert!(matches!(interpret(&m), Ok(NsAnswer::NotDelegated(_))));
    }

    #[test]
    fn a_resolver_error_is_no_answer() {
        let e = interpret(&reply(ResponseCode::ServFail)).expect_err("servfail");
        assert!(e.contains("answered"), "{e}");
        let mut truncated = reply(ResponseCode::NoError);
        truncated.metadata.truncation = true;
        assert!(interpret(&truncated).is_err());
    }

    #[tokio::test]
    async fn no_resolver_is_unreachable() {
        assert!(matches!(
            ns_records("example.com", &[]).await,
            NsAnswer::Unreachable(w) if w.contains("no resolver")
        ));
    }
}
