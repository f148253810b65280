//! Security-group rules as albkit compares them: every shape AWS has (all protocols,
//! TCP/UDP ports, ICMP type and code, any other protocol number; a source or
//! destination that is an IPv4 or IPv6 CIDR, a prefix list or another security group;
//! inbound or outbound) in one text form that reads back exactly, and the
//! reconciliation of the rules a group has (by rule id) with the rules it should have.
//! Pure.

use std::fmt;

/// Inbound or outbound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Direction {
    Ingress,
    Egress,
}

impl Direction {
    /// The word between the traffic and the peer in the text form.
    fn word(self) -> &'static str {
        match self {
            Direction::Ingress => " from ",
            Direction::Egress => " to ",
        }
    }
}

/// Where traffic comes from (ingress) or goes to (egress).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Peer {
    Ipv4(String),
    Ipv6(String),
    PrefixList(String),
    Group(String),
}

const PREFIX_LIST: &str = "prefix list ";
const GROUP: &str = "security group ";

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Peer::Ipv4(c) | Peer::Ipv6(c) => f.write_str(c),
            Peer::PrefixList(id) => write!(f, "{PREFIX_LIST}{id}"),
            Peer::Group(id) => write!(f, "{GROUP}{id}"),
        }
    }
}

/// One security-group rule, normalised the way AWS reports it in
/// `DescribeSecurityGroupRules`: protocol `-1` (all), `tcp`, `udp`, `icmp`, `icmpv6` or
/// a protocol number; `from`/`to` are the port range, or the ICMP type and code, and
/// `-1` where they do not apply (or mean "all").
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rule {
    pub direction: Direction,
    pub protocol: String,
    pub from: i32,
    pub to: i32,
    pub peer: Peer,
}

impl Rule {
    /// A rule with its protocol written as AWS reports it (`6` is `tcp`, `all` is `-1`…)
    /// and ports dropped where the protocol has none.
    pub fn new(direction: Direction, protocol: &str, from: i32, to: i32, peer: Peer) -> Rule {
        let protocol = match protocol.to_ascii_lowercase().as_str() {
            "-1" | "all" => "-1".to_string(),
            "6" | "tcp" => "tcp".to_string(),
            "17" | "udp" => "udp".to_string(),
            "1" | "icmp" => "icmp".to_string(),
            "58" | "icmpv6" => "icmpv6".to_string(),
            other => other.to_string(),
        };
        let (from, to) = match protocol.as_str() {
            // -1 as the first port or the ICMP type means all of them.
            "tcp" | "udp" | "icmp" | "icmpv6" if from != -1 => (from, to),
            _ => (-1, -1),
        };
        Rule {
            direction,
            protocol,
            from,
            to,
            peer,
        }
    }

    /// `tcp/80 from 0.0.0.0/0`: a TCP port from a CIDR, the rule albkit writes.
    pub fn tcp_from(port: u16, cidr: &str) -> Rule {
        let port = i32::from(port);
        Rule::new(Direction::Ingress, "tcp", port, port, peer_of(cidr))
    }

    /// `all to 0.0.0.0/0`: all traffic to a CIDR.
    pub fn all_to(cidr: &str) -> Rule {
        Rule::new(Direction::Egress, "-1", -1, -1, peer_of(cidr))
    }

    /// The traffic part of the text form: `all`, `tcp/80`, `udp/1000-2000`,
    /// `icmp type 8`, `icmp type 3 code 4`, `icmpv6 all types`, `protocol 50`.
    fn traffic(&self) -> String {
        match self.protocol.as_str() {
            "-1" => "all".to_string(),
            "tcp" | "udp" => match (self.from, self.to) {
                (-1, _) => format!("{}/all", self.protocol),
                (a, b) if a == b => format!("{}/{a}", self.protocol),
                (a, b) => format!("{}/{a}-{b}", self.protocol),
            },
            "icmp" | "icmpv6" => match (self.from, self.to) {
                (-1, _) => format!("{} all types", self.protocol),
                (t, -1) => format!("{} type {t}", self.protocol),
                (t, c) => format!("{} type {t} code {c}", self.protocol),
            },
            other => format!("protocol {other}"),
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{}{}",
            self.traffic(),
            self.direction.word(),
            self.peer
        )
    }
}

/// A CIDR as a peer: IPv6 when it has a colon.
pub fn peer_of(cidr: &str) -> Peer {
    if cidr.contains(':') {
        Peer::Ipv6(cidr.to_string())
    } else {
        Peer::Ipv4(cidr.to_string())
    }
}

/// Rules as one property value: their text forms, sorted, joined by `, `.
pub fn rules_prop<'a>(rules: impl IntoIterator<Item = &'a Rule>) -> String {
    let mut texts: Vec<String> = rules.into_iter().map(Rule::to_string).collect();
    texts.sort();
    texts.join(", ")
}

/// What to do to a group's rules to make them exactly the desired ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reconcile {
    /// Ids of inbound rules that are not desired.
    pub revoke_ingress: Vec<String>,
    /// Ids of outbound rules that are not desired.
    pub revoke_egress: Vec<String>,
    /// Desired rules the group lacks.
    pub authorize: Vec<Rule>,
}

impl Reconcile {
    pub fn is_empty(&self) -> bool {
        self.revoke_ingress.is_empty() && self.revoke_egress.is_empty() && self.authorize.is_empty()
    }
}

/// Compares the rules a group has (`(rule id, rule)`) with the desired ones: every rule
/// that is desired is kept under its id (never revoked and added again), every other
/// one is revoked by its id, and the desired rules that no existing rule matches are to
/// be authorized.
pub fn reconcile(desired: &[Rule], existing: &[(String, Rule)]) -> Reconcile {
    let mut missing: Vec<&Rule> = desired.iter().collect();
    missing.sort();
    missing.dedup();
    let mut out = Reconcile::default();
    for (id, rule) in existing {
        if let Some(pos) = missing.iter().position(|r| *r == rule) {
            missing.remove(pos);
            continue;
        }
        match rule.direction {
            Direction::Ingress => out.revoke_ingress.push(id.clone()),
            Direction::Egress => out.revoke_egress.push(id.clone()),
        }
    }
    out.authorize = missing.into_iter().cloned().collect();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_shape() -> Vec<Rule> {
        use Direction::{Egress, Ingress};
        vec![
            Rule::tcp_from(80, "0.0.0.0/0"),
            Rule::tcp_from(443, "::/0"),
            Rule::new(Ingress, "tcp", 1000, 2000, peer_of("10.0.0.0/8")),
            Rule::new(Ingress, "udp", -1, -1, peer_of("10.0.0.0/8")),
            Rule::new(Ingress, "-1", -1, -1, peer_of("192.168.0.0/16")),
            Rule::new(Ingress, "icmp", 8, -1, peer_of("10.9.0.0/16")),
            Rule::new(Ingress, "icmp", 3, 4, peer_of("10.9.0.0/16")),
            Rule::new(Ingress, "icmpv6", -1, -1, peer_of("2001:db8::/32")),
            Rule::new(Ingress, "50", -1, -1, peer_of("10.0.0.0/8")),
            Rule::new(Ingress, "tcp", 22, 22, Peer::Group("sg-0abc".into())),
            Rule::new(
                Ingress,
                "tcp",
                5432,
                5432,
                Peer::PrefixList("pl-0def".into()),
            ),
            Rule::all_to("0.0.0.0/0"),
            Rule::new(Egress, "tcp", 443, 443, peer_of("10.0.0.0/8")),
            Rule::new(Egress, "-1", -1, -1, Peer::Group("sg-0abc".into())),
        ]
    }

    #[test]
    fn every_shape_has_its_own_text() {
        let texts: Vec<String> = every_shape().iter().map(Rule::to_string).collect();
        assert_eq!(
            texts,
            vec![
                "tcp/80 from 0.0.0.0/0",
                "tcp/443 from ::/0",
                "tcp/1000-2000 from 10.0.0.0/8",
                "udp/all from 10.0.0.0/8",
                "all from 192.168.0.0/16",
                "icmp type 8 from 10.9.0.0/16",
                "icmp type 3 code 4 from 10.9.0.0/16",
                "icmpv6 all types from 2001:db8::/32",
                "protocol 50 from 10.0.0.0/8",
                "tcp/22 from security group sg-0abc",
                "tcp/5432 from prefix list pl-0def",
                "all to 0.0.0.0/0",
                "tcp/443 to 10.0.0.0/8",
                "all to security group sg-0abc",
            ]
        );
    }

    #[test]
    fn protocols_are_normalised_as_aws_reports_them() {
        let a = Rule::new(Direction::Ingress, "6", 80, 80, peer_of("0.0.0.0/0"));
        assert_eq!(a, Rule::tcp_from(80, "0.0.0.0/0"));
        // Ports mean nothing for all protocols: AWS reports -1.
        let b = Rule::new(Direction::Egress, "all", 0, 65535, peer_of("0.0.0.0/0"));
        assert_eq!(b, Rule::all_to("0.0.0.0/0"));
        assert_eq!(
            Rule::new(Direction::Ingress, "58", 128, -1, peer_of("::/0")).to_string(),
            "icmpv6 type 128 from ::/0"
        );
    }

    #[test]
    fn the_property_keeps_the_text_albkit_always_wrote() {
        let rules = [
            Rule::tcp_from(80, "0.0.0.0/0"),
            Rule::tcp_from(80, "::/0"),
            Rule::tcp_from(443, "0.0.0.0/0"),
            Rule::tcp_from(443, "::/0"),
        ];
        assert_eq!(
            rules_prop(&rules),
            "tcp/443 from 0.0.0.0/0, tcp/443 from ::/0, tcp/80 from 0.0.0.0/0, tcp/80 from ::/0"
        );
    }

    fn ids(rules: &[Rule]) -> Vec<(String, Rule)> {
        rules
            .iter()
            .enumerate()
            .map(|(i, r)| (format!("sgr-{i}"), r.clone()))
            .collect()
    }

    #[test]
    fn desired_rules_are_kept_and_every_other_shape_is_revoked_by_id() {
        let desired = vec![
            Rule::tcp_from(80, "0.0.0.0/0"),
            Rule::tcp_from(80, "::/0"),
            Rule::all_to("0.0.0.0/0"),
        ];
        let existing = ids(&every_shape());
        let r = reconcile(&desired, &existing);
        // every_shape()[0] (tcp/80 from 0.0.0.0/0) and [11] (all to 0.0.0.0/0) are desired.
        let expected_ingress: Vec<String> = (1..=10).map(|i| format!("sgr-{i}")).collect();
        assert_eq!(r.revoke_ingress, expected_ingress);
        assert_eq!(r.revoke_egress, vec!["sgr-12", "sgr-13"]);
        assert_eq!(r.authorize, vec![Rule::tcp_from(80, "::/0")]);
    }

    #[test]
    fn a_group_with_exactly_the_desired_rules_needs_nothing() {
        let desired = vec![Rule::tcp_from(80, "0.0.0.0/0"), Rule::all_to("0.0.0.0/0")];
        assert!(reconcile(&desired, &ids(&desired)).is_empty());
        // A new group: only the default egress rule; the ingress is authorized.
        let r = reconcile(&desired, &ids(&[Rule::all_to("0.0.0.0/0")]));
        assert_eq!(r.authorize, vec![Rule::tcp_from(80, "0.0.0.0/0")]);
        assert!(r.revoke_ingress.is_empty() && r.revoke_egress.is_empty());
    }

    #[test]
    fn a_rule_that_exists_twice_is_kept_once() {
        let desired = vec![Rule::tcp_from(80, "0.0.0.0/0")];
        let existing = ids(&[
            Rule::tcp_from(80, "0.0.0.0/0"),
            Rule::tcp_from(80, "0.0.0.0/0"),
        ]);
        let r = reconcile(&desired, &existing);
        assert_eq!(r.revoke_ingress, vec!["sgr-1"]);
        assert!(r.authorize.is_empty());
    }

    #[test]
    fn the_same_traffic_in_the_other_direction_is_another_rule() {
        let desired = vec![Rule::all_to("0.0.0.0/0")];
        let inbound = Rule::new(Direction::Ingress, "-1", -1, -1, peer_of("0.0.0.0/0"));
        let r = reconcile(&desired, &ids(&[inbound]));
        assert_eq!(r.revoke_ingress, vec!["sgr-0"]);
        assert_eq!(r.authorize, desired);
    }
}
