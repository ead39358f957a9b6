//! Plain data the node hands back: results, roles, status.

/// A proposal that was committed and applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The entry's log index.
    pub index: u64,
    /// The entry's term.
    pub term: u64,
    /// What [`StateMachine::apply`](crate::StateMachine::apply) returned
    /// for it on this node.
    pub data: Vec<u8>,
}

/// Where a membership change, transfer or snapshot landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    /// The configuration entry's index (a snapshot's last index; 0 for a
    /// transfer).
    pub index: u64,
    /// Its term.
    pub term: u64,
    /// The leader when the call completed (for a transfer: the new one).
    pub leader: Option<u64>,
}

/// A server's Raft role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Follows a leader (or waits for one).
    Follower,
    /// Running a pre-vote (thesis §9.6).
    PreCandidate,
    /// Campaigning.
    Candidate,
    /// The leader.
    Leader,
    /// A value this binding does not know (a newer library).
    Unknown(i32),
}

impl Role {
    pub(crate) fn from_c(r: i32) -> Role {
        match r {
            1 => Role::Follower,
            2 => Role::PreCandidate,
            3 => Role::Candidate,
            4 => Role::Leader,
            r => Role::Unknown(r),
        }
    }
}

/// A member's role in the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MemberRole {
    /// Votes and counts toward the quorum.
    Voter,
    /// Receives the log, does not vote.
    Learner,
    /// A value this binding does not know.
    Unknown(i32),
}

impl MemberRole {
    pub(crate) fn from_c(r: i32) -> MemberRole {
        match r {
            1 => MemberRole::Voter,
            2 => MemberRole::Learner,
            r => MemberRole::Unknown(r),
        }
    }
}

/// A member of the configuration, as [`Status`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Its id.
    pub id: u64,
    /// Voter or learner.
    pub role: MemberRole,
    /// On a leader: the highest index known replicated on it (else 0).
    pub match_index: u64,
    /// On a leader: the next index to send it (else 0).
    pub next_index: u64,
    /// Its address in the membership, when it was given one
    /// ([`NodeBuilder::bootstrap_at`](crate::NodeBuilder::bootstrap_at),
    /// [`Node::add_peer_at`](crate::Node::add_peer_at)).
    pub address: Option<String>,
}

/// A consistent copy of a node's state ([`Node::status`](crate::Node::status)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// This node's id.
    pub id: u64,
    /// Its role.
    pub role: Role,
    /// Its current term.
    pub term: u64,
    /// The leader it knows of.
    pub leader: Option<u64>,
    /// Highest index known committed.
    pub commit_index: u64,
    /// Last index the state machine applied.
    pub applied_index: u64,
    /// Last index in its log.
    pub last_index: u64,
    /// Last index covered by its snapshot (0: none).
    pub snapshot_index: u64,
    /// The configuration (the latest in its log).
    pub members: Vec<Member>,
}

impl Status {
    /// Ids of the voters.
    pub fn voters(&self) -> Vec<u64> {
        self.members
            .iter()
            .filter(|m| m.role == MemberRole::Voter)
            .map(|m| m.id)
            .collect()
    }

    /// Ids of the learners.
    pub fn learners(&self) -> Vec<u64> {
        self.members
            .iter()
            .filter(|m| m.role == MemberRole::Learner)
            .map(|m| m.id)
            .collect()
    }
}

pub(crate) fn hint(leader: u64) -> Option<u64> {
    if leader == 0 {
        None
    } else {
        Some(leader)
    }
}
