// An independent SCIM 2.0 service provider for outbound's push tests:
// scimmy + scimmy-routers behind express, users and groups in memory.
// Listens on 127.0.0.1 (PORT, default any free port), requires the bearer
// token TOKEN, prints {"url": BASE} on stdout once listening, and serves
// GET /state (no auth), what it holds: userName → active, group
// displayName → sorted member userNames.
import express from "express";
import SCIMMY from "scimmy";
import SCIMMYRouters from "scimmy-routers";
import {randomUUID} from "node:crypto";

const token = process.env.TOKEN;
if (!token) throw new Error("TOKEN is required");

const stores = {User: new Map(), Group: new Map()};

function handlers(kind, unique) {
    const store = stores[kind];
    return {
        ingress: (resource, instance) => {
            const clash = [...store.values()].find(r => r[unique] === instance[unique] && r.id !== resource.id);
            if (clash) throw new SCIMMY.Types.Error(409, "uniqueness", `${unique} ${instance[unique]} is taken`);
            const now = new Date();
            if (resource.id) {
                const old = store.get(resource.id);
                if (!old) throw new SCIMMY.Types.Error(404, null, `Resource ${resource.id} not found`);
                const rec = {...instance, id: resource.id, meta: {created: old.meta.created, lastModified: now}};
                store.set(resource.id, rec);
                return rec;
            }
            const rec = {...instance, id: randomUUID(), meta: {created: now, lastModified: now}};
            store.set(rec.id, rec);
            return rec;
        },
        egress: (resource) => {
            if (resource.id) {
                const rec = store.get(resource.id);
                if (!rec) throw new SCIMMY.Types.Error(404, null, `Resource ${resource.id} not found`);
                return rec;
            }
            const all = [...store.values()];
            return resource.filter ? resource.filter.match(all) : all;
        },
        degress: (resource) => {
            if (!store.delete(resource.id)) throw new SCIMMY.Types.Error(404, null, `Resource ${resource.id} not found`);
        },
    };
}

const user = handlers("User", "userName"), group = handlers("Group", "displayName");
SCIMMY.Resources.declare(SCIMMY.Resources.User).ingress(user.ingress).egress(user.egress).degress(user.degress);
SCIMMY.Resources.declare(SCIMMY.Resources.Group).ingress(group.ingress).egress(group.egress).degress(group.degress);
SCIMMY.Config.set({patch: true, filter: {supported: true, maxResults: 1000}});

const app = express();
app.get("/state", (req, res) => {
    const users = {}, names = {}, groups = {};
    for (const u of stores.User.values()) {
        users[u.userName] = u.active !== false;
        names[u.id] = u.userName;
    }
    for (const g of stores.Group.values()) {
        groups[g.displayName] = (g.members ?? []).map(m => names[m.value] ?? "?" + m.value).sort();
    }
    res.json({users, groups});
});
app.use("/scim/v2", new SCIMMYRouters({
    type: "bearer",
    handler: (request) => {
        if (request.header("Authorization") !== `Bearer ${token}`) throw new Error("Authorization failed");
        return "roster";
    },
}));
const server = app.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => {
    const {port} = server.address();
    process.stdout.write(JSON.stringify({url: `http://127.0.0.1:${port}/scim/v2`}) + "\n");
});
for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => server.close(() => process.exit(0)));
