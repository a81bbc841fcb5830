-- Roster schema, version 1. Identifiers, names and keys compare bytewise
-- (COLLATE "C"), as bbolt's keys do, so listings and pages have the same
-- order on both backends. Records are the JSON encoding of the policy
-- types, kept verbatim (json, not jsonb) so the audit log and the change
-- feed carry exactly the bytes that were written.

CREATE TABLE tenants (
	id   text COLLATE "C" PRIMARY KEY,
	data json NOT NULL
);

CREATE TABLE users (
	id          text COLLATE "C" PRIMARY KEY,
	tenant      text COLLATE "C" NOT NULL REFERENCES tenants (id),
	name_fold   text COLLATE "C" NOT NULL,   -- policy.FoldUserName(userName)
	external_id text COLLATE "C",            -- NULL when unset
	data        json NOT NULL,
	UNIQUE (tenant, name_fold),
	UNIQUE (tenant, external_id)
);
CREATE INDEX users_by_tenant ON users (tenant, id);

CREATE TABLE dirgroups (
	id          text COLLATE "C" PRIMARY KEY,
	tenant      text COLLATE "C" NOT NULL REFERENCES tenants (id),
	name_fold   text COLLATE "C" NOT NULL,   -- policy.FoldName(displayName)
	external_id text COLLATE "C",
	data        json NOT NULL,
	UNIQUE (tenant, external_id)
);
CREATE INDEX dirgroups_by_tenant ON dirgroups (tenant, id);
CREATE INDEX dirgroups_by_name ON dirgroups (tenant, name_fold, id);

-- Reverse membership of directory groups (DirGroupsOf). The member lists
-- themselves, in their order, are in dirgroups.data.
CREATE TABLE dg_members (
	tenant   text COLLATE "C" NOT NULL,
	member   text COLLATE "C" NOT NULL,      -- a user id or a directory-group id
	group_id text COLLATE "C" NOT NULL REFERENCES dirgroups (id),
	PRIMARY KEY (tenant, member, group_id)
);
CREATE INDEX dg_members_by_group ON dg_members (group_id);

CREATE TABLE groups (
	id     text COLLATE "C" PRIMARY KEY,
	slug   text COLLATE "C" NOT NULL UNIQUE,
	parent text COLLATE "C" REFERENCES groups (id),
	data   json NOT NULL
);
CREATE INDEX groups_by_parent ON groups (parent);

CREATE TABLE roles (
	name text COLLATE "C" PRIMARY KEY,
	data json NOT NULL
);

CREATE TABLE rules (
	id        text COLLATE "C" PRIMARY KEY,
	tenant    text COLLATE "C" NOT NULL,
	dir_group text COLLATE "C" NOT NULL,
	group_id  text COLLATE "C" NOT NULL,
	role      text COLLATE "C" NOT NULL,
	data      json NOT NULL
);
CREATE INDEX rules_by_dirgroup ON rules (tenant, dir_group);
CREATE INDEX rules_by_group ON rules (group_id);
CREATE INDEX rules_by_role ON rules (role);

CREATE TABLE memberships (
	group_id text COLLATE "C" NOT NULL,
	user_id  text COLLATE "C" NOT NULL,
	role     text COLLATE "C" NOT NULL,
	tenant   text COLLATE "C" NOT NULL,      -- the user's tenant
	data     json NOT NULL,
	PRIMARY KEY (group_id, user_id, role)
);
CREATE INDEX memberships_by_user ON memberships (user_id, group_id, role);
CREATE INDEX memberships_by_role ON memberships (role);

CREATE TABLE records (
	ns    text COLLATE "C" NOT NULL,
	key   text COLLATE "C" NOT NULL,
	value bytea NOT NULL,
	PRIMARY KEY (ns, key)
);

-- The audit log is the change feed. Sequence numbers are taken under a
-- transaction-level advisory lock held until commit, so they grow in
-- commit order; batch is the first seq of the transaction's entries.
CREATE SEQUENCE audit_seq AS bigint;
CREATE TABLE audit (
	seq    bigint PRIMARY KEY,
	batch  bigint NOT NULL,
	time   timestamptz NOT NULL,
	actor  text NOT NULL,
	tenant text COLLATE "C" NOT NULL DEFAULT '',
	kind   text NOT NULL,
	op     text NOT NULL,
	id     text NOT NULL,
	before json,
	after  json
);

-- Records set aside because they could not be read (see store.Quarantined).
CREATE TABLE quarantine (
	id     text COLLATE "C" PRIMARY KEY,
	kind   text NOT NULL,
	tenant text COLLATE "C" NOT NULL DEFAULT '',
	key    text COLLATE "C" NOT NULL,
	reason text NOT NULL,
	time   timestamptz NOT NULL,
	value  bytea NOT NULL
);
