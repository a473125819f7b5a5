/*
 * The ZooKeeper C client (libzookeeper_mt, Debian) against the ensemble given as argv[1].
 * Prints one line per feature: "RESULT <feature> PASS" or "RESULT <feature> FAIL <why>".
 * Build: gcc -DTHREADED -O1 -Wall -Wno-format-truncation -o zkmatrix zkmatrix.c -lzookeeper_mt -lpthread
 *
 * A client that must see another client's write (ordered here, out of band) syncs first:
 * ZooKeeper guarantees a single client's view only.
 */
#ifndef THREADED
#define THREADED /* the synchronous API of libzookeeper_mt */
#endif
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zookeeper/zookeeper.h>

static const char *connect_string;
static char root[128];
static int failures;

/* ---- a tiny event queue fed by watchers ---------------------------------------------------- */
#define QMAX 64
struct evq {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int n;
    int type[QMAX];
    char path[QMAX][256];
};

static void evq_init(struct evq *q) {
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
    q->n = 0;
}

static void evq_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx) {
    struct evq *q = ctx;
    (void)zh;
    (void)state;
    if (type == ZOO_SESSION_EVENT || q == NULL) {
        return;
    }
    pthread_mutex_lock(&q->mu);
    if (q->n < QMAX) {
        q->type[q->n] = type;
        snprintf(q->path[q->n], sizeof q->path[0], "%s", path ? path : "");
        q->n++;
    }
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

/* wait for the next event (index idx); 0 when it came in time */
static int evq_wait(struct evq *q, int idx, int seconds) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += seconds;
    pthread_mutex_lock(&q->mu);
    while (q->n <= idx) {
        if (pthread_cond_timedwait(&q->cv, &q->mu, &ts) == ETIMEDOUT) {
            break;
        }
    }
    int ok = q->n > idx;
    pthread_mutex_unlock(&q->mu);
    return ok ? 0 : -1;
}

/* ---- connection ------------------------------------------------------------------------------ */
struct conn_state {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int connected;
};

static void session_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx) {
    struct conn_state *cs = ctx;
    (void)zh;
    (void)path;
    if (type == ZOO_SESSION_EVENT && state == ZOO_CONNECTED_STATE) {
        pthread_mutex_lock(&cs->mu);
        cs->connected = 1;
        pthread_cond_broadcast(&cs->cv);
        pthread_mutex_unlock(&cs->mu);
    }
}

static zhandle_t *connect_zk(void) {
    struct conn_state *cs = calloc(1, sizeof *cs); /* lives as long as the handle: leaked on purpose */
    pthread_mutex_init(&cs->mu, NULL);
    pthread_cond_init(&cs->cv, NULL);
    zhandle_t *zh = zookeeper_init(connect_string, session_watcher, 15000, NULL, cs, 0);
    if (!zh) {
        return NULL;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 30;
    pthread_mutex_lock(&cs->mu);
    while (!cs->connected) {
        if (pthread_cond_timedwait(&cs->cv, &cs->mu, &ts) == ETIMEDOUT) {
            break;
        }
    }
    int ok = cs->connected;
    pthread_mutex_unlock(&cs->mu);
    if (!ok) {
        zookeeper_close(zh);
        return NULL;
    }
    return zh;
}

/* blocking sync() through the async API */
struct done {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int finished;
    int rc;
};

static void string_done(int rc, const char *value, const void *data) {
    struct done *d = (struct done *)data;
    (void)value;
    pthread_mutex_lock(&d->mu);
    d->rc = rc;
    d->finished = 1;
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
}

static void void_done(int rc, const void *data) { string_done(rc, NULL, data); }

static int wait_done(struct done *d) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 30;
    pthread_mutex_lock(&d->mu);
    while (!d->finished) {
        if (pthread_cond_timedwait(&d->cv, &d->mu, &ts) == ETIMEDOUT) {
            break;
        }
    }
    int rc = d->finished ? d->rc : ZOPERATIONTIMEOUT;
    pthread_mutex_unlock(&d->mu);
    return rc;
}

static int sync_path(zhandle_t *zh, const char *path) {
    struct done d = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    int rc = zoo_async(zh, path, string_done, &d);
    return rc != ZOK ? rc : wait_done(&d);
}

static int add_auth(zhandle_t *zh, const char *cred) {
    struct done d = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    int rc = zoo_add_auth(zh, "digest", cred, (int)strlen(cred), void_done, &d);
    return rc != ZOK ? rc : wait_done(&d);
}

/* ---- test plumbing --------------------------------------------------------------------------- */
static char why[512];

#define CHECK(cond, ...)                                  \
    do {                                                  \
        if (!(cond)) {                                    \
            snprintf(why, sizeof why, __VA_ARGS__);       \
            return -1;                                    \
        }                                                 \
    } while (0)
#define RC(call, want)                                                                   \
    do {                                                                                 \
        int rc_ = (call);                                                                \
        CHECK(rc_ == (want), "line %d: %s -> %s (%d), want %s", __LINE__, #call,         \
              zerror(rc_), rc_, zerror(want));                                           \
    } while (0)

static void run(const char *name, int (*fn)(void)) {
    why[0] = 0;
    int r = fn();
    if (r == 0) {
        printf("RESULT %s PASS\n", name);
    } else {
        failures++;
        printf("RESULT %s FAIL %s\n", name, why);
    }
    fflush(stdout);
}

static void p(char *out, const char *suffix) { snprintf(out, 256, "%s%s", root, suffix); }

/* ---- features -------------------------------------------------------------------------------- */
static int t_crud(void) {
    zhandle_t *zh = connect_zk();
    CHECK(zh, "connect");
    char path[256], kid[256], buf[64], created[256];
    struct Stat st, st2;
    int len;
    p(path, "/node");
    RC(zoo_create(zh, path, "v0", 2, &ZOO_OPEN_ACL_UNSAFE, 0, created, sizeof created), ZOK);
    CHECK(strcmp(created, path) == 0, "created %s", created);
    RC(zoo_create(zh, path, "x", 1, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0), ZNODEEXISTS);
    p(kid, "/missing/child");
    RC(zoo_create(zh, kid, "x", 1, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0), ZNONODE);
    len = sizeof buf;
    RC(zoo_get(zh, path, 0, buf, &len, &st), ZOK);
    CHECK(len == 2 && memcmp(buf, "v0", 2) == 0 && st.version == 0 && st.dataLength == 2, "get: len %d ver %d", len, st.version);
    RC(zoo_set2(zh, path, "v1", 2, 0, &st2), ZOK);
    CHECK(st2.version == 1 && st2.czxid == st.czxid && st2.mzxid > st.mzxid, "set stat");
    RC(zoo_set(zh, path, "v2", 2, 0), ZBADVERSION);
    /* null data */
    snprintf(kid, sizeof kid, "%s/c1", path);
    RC(zoo_create(zh, kid, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0), ZOK);
    len = sizeof buf;
    RC(zoo_get(zh, kid, 0, buf, &len, &st), ZOK);
    CHECK(len == -1 || len == 0, "null data len %d", len);
    snprintf(kid, sizeof kid, "%s/c2", path);
    RC(zoo_create(zh, kid, "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0), ZOK);
    struct String_vector kids;
    RC(zoo_get_children2(zh, path, 0, &kids, &st), ZOK);
    CHECK(kids.count == 2 && st.numChildren == 2 && st.cversion == 2, "children %d cversion %d", kids.count, st.cversion);
    deallocate_String_vector(&kids);
    RC(zoo_delete(zh, path, -1), ZNOTEMPTY);
    RC(zoo_delete(zh, kid, 5), ZBADVERSION);
    RC(zoo_delete(zh, kid, 0), ZOK);
    snprintf(kid, sizeof kid, "%s/c1", path);
    RC(zoo_delete(zh, kid, -1), ZOK);
    RC(zoo_delete(zh, path, 1), ZOK);
    RC(zoo_exists(zh, path, 0, &st), ZNONODE);
    len = sizeof buf;
    RC(zoo_get(zh, path, 0, buf, &len, &st), ZNONODE);
    zookeeper_close(zh);
    return 0;
}

static int t_sequential_ephemeral(void) {
    zhandle_t *zh = connect_zk(), *other = connect_zk();
    CHECK(zh && other, "connect");
    char dir[256], seq[256], got1[256], got2[256], eph[256], want[300];
    struct Stat st;
    p(dir, "/seqs");
    RC(zoo_create(zh, dir, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0), ZOK);
    snprintf(seq, sizeof seq, "%s/s-", dir);
    RC(zoo_create(zh, seq, "a", 1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT_SEQUENTIAL, got1, sizeof got1), ZOK);
    RC(zoo_create(zh, seq, "b", 1, &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL_SEQUENTIAL, got2, sizeof got2), ZOK);
    snprintf(want, sizeof want, "%s0000000000", seq);
    CHECK(strcmp(got1, want) == 0, "first sequential %s", got1);
    snprintf(want, sizeof want, "%s0000000001", seq);
    CHECK(strcmp(got2, want) == 0, "second sequential %s", got2);
    p(eph, "/eph");
    RC(zoo_create(other, eph, "x", 1, &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL, NULL, 0), ZOK);
    RC(sync_path(zh, eph), ZOK);
    RC(zoo_exists(zh, eph, 0, &st), ZOK);
    CHECK(st.ephemeralOwner == zoo_client_id(other)->client_id, "ephemeral owner");
    snprintf(want, sizeof want, "%s/kid", eph);
    RC(zoo_create(zh, want, "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0), ZNOCHILDRENFOREPHEMERALS);
    zookeeper_close(other);
    int gone = 0;
    for (int i = 0; i < 300 && !gone; i++) {
        gone = zoo_exists(zh, eph, 0, &st) == ZNONODE;
        if (!gone) {
            usleep(100000);
        }
    }
    CHECK(gone, "ephemeral survived its closed session");
    zookeeper_close(zh);
    return 0;
}

static int t_watches(void) {
    zhandle_t *zh = connect_zk(), *writer = connect_zk();
    CHECK(zh && writer, "connect");
    struct evq q;
    evq_init(&q);
    char path[256], kid[256], buf[16];
    int len = sizeof buf;
    struct Stat st;
    struct String_vector kids;
    p(path, "/w");
    RC(zoo_wexists(zh, path, evq_watcher, &q, &st), ZNONODE);
    RC(zoo_create(writer, path, "1", 1, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0), ZOK);
    CHECK(evq_wait(&q, 0, 30) == 0, "no NodeCreated event");
    CHECK(q.type[0] == ZOO_CREATED_EVENT && strcmp(q.path[0], path) == 0, "event 0 type %d path %s", q.type[0], q.path[0]);
    RC(zoo_wget(zh, path, evq_watcher, &q, buf, &len, &st), ZOK);
    RC(zoo_set(writer, path, "2", 1, -1), ZOK);
    CHECK(evq_wait(&q, 1, 30) == 0, "no NodeDataChanged event");
    CHECK(q.type[1] == ZOO_CHANGED_EVENT, "event 1 type %d", q.type[1]);
    RC(zoo_set(writer, path, "3", 1, -1), ZOK); /* one-shot: no event */
    RC(zoo_wget_children(zh, path, evq_watcher, &q, &kids), ZOK);
    deallocate_String_vector(&kids);
    snprintf(kid, sizeof kid, "%s/kid", path);
    RC(zoo_create(writer, kid, "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0), ZOK);
    CHECK(evq_wait(&q, 2, 30) == 0, "no NodeChildrenChanged event");
    CHECK(q.type[2] == ZOO_CHILD_EVENT && strcmp(q.path[2], path) == 0, "event 2 type %d path %s", q.type[2], q.path[2]);
    len = sizeof buf;
    RC(zoo_wget(zh, kid, evq_watcher, &q, buf, &len, &st), ZOK);
    RC(zoo_delete(writer, kid, -1), ZOK);
    CHECK(evq_wait(&q, 3, 30) == 0, "no NodeDeleted event");
    CHECK(q.type[3] == ZOO_DELETED_EVENT && strcmp(q.path[3], kid) == 0, "event 3 type %d", q.type[3]);
    usleep(300000);
    CHECK(q.n == 4, "%d events, want 4 (one-shot watches)", q.n);
    zookeeper_close(writer);
    zookeeper_close(zh);
    return 0;
}

static int t_multi(void) {
    zhandle_t *zh = connect_zk();
    CHECK(zh, "connect");
    char a[256], b[256], c[256], pa[256], pb[256];
    struct Stat st;
    p(a, "/a");
    p(b, "/b");
    p(c, "/c");
    zoo_op_t ops[4];
    zoo_op_result_t res[4];
    zoo_create_op_init(&ops[0], a, "1", 1, &ZOO_OPEN_ACL_UNSAFE, 0, pa, sizeof pa);
    zoo_create_op_init(&ops[1], b, "2", 1, &ZOO_OPEN_ACL_UNSAFE, 0, pb, sizeof pb);
    zoo_set_op_init(&ops[2], a, "3", 1, 0, &st);
    zoo_check_op_init(&ops[3], b, 0);
    RC(zoo_multi(zh, 4, ops, res), ZOK);
    CHECK(strcmp(pa, a) == 0 && strcmp(pb, b) == 0, "created paths %s %s", pa, pb);
    CHECK(st.version == 1, "set-in-multi stat version %d", st.version);
    for (int i = 0; i < 4; i++) {
        CHECK(res[i].err == ZOK, "op %d err %d", i, res[i].err);
    }
    zoo_create_op_init(&ops[0], c, "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
    zoo_check_op_init(&ops[1], a, 99);
    zoo_delete_op_init(&ops[2], b, -1);
    RC(zoo_multi(zh, 3, ops, res), ZBADVERSION);
    CHECK(res[0].err == ZOK && res[1].err == ZBADVERSION && res[2].err == ZRUNTIMEINCONSISTENCY,
          "per-op errors %d %d %d", res[0].err, res[1].err, res[2].err);
    RC(zoo_exists(zh, c, 0, &st), ZNONODE);
    RC(zoo_exists(zh, b, 0, &st), ZOK);
    zookeeper_close(zh);
    return 0;
}

static int t_acl(void) {
    zhandle_t *zh = connect_zk(), *anon = connect_zk(), *alice = connect_zk();
    CHECK(zh && anon && alice, "connect");
    char path[256], kid[256], buf[32];
    int len;
    struct Stat st;
    p(path, "/secret");
    /* digest of alice:pw = base64(sha1("alice:pw")) */
    struct Id ids[2] = {{"digest", "alice:V55/p2T0OpjQ+low3NVAH4aLvm0="}, {"world", "anyone"}};
    struct ACL acl[2] = {{ZOO_PERM_ALL, ids[0]}, {ZOO_PERM_READ, ids[1]}};
    struct ACL_vector av = {2, acl};
    RC(zoo_create(zh, path, "s", 1, &av, 0, NULL, 0), ZOK);
    RC(sync_path(anon, path), ZOK);
    len = sizeof buf;
    RC(zoo_get(anon, path, 0, buf, &len, &st), ZOK);
    RC(zoo_set(anon, path, "x", 1, -1), ZNOAUTH);
    RC(add_auth(alice, "alice:pw"), ZOK);
    RC(zoo_set(alice, path, "by alice", 8, -1), ZOK);
    snprintf(kid, sizeof kid, "%s/kid", path);
    RC(zoo_create(alice, kid, "k", 1, &ZOO_CREATOR_ALL_ACL, 0, NULL, 0), ZOK);
    struct ACL_vector got;
    RC(zoo_get_acl(alice, kid, &got, &st), ZOK);
    CHECK(got.count == 1 && strcmp(got.data[0].id.scheme, "digest") == 0 &&
              strcmp(got.data[0].id.id, "alice:V55/p2T0OpjQ+low3NVAH4aLvm0=") == 0,
          "creator acl %s:%s", got.count ? got.data[0].id.scheme : "", got.count ? got.data[0].id.id : "");
    deallocate_ACL_vector(&got);
    RC(sync_path(anon, kid), ZOK);
    len = sizeof buf;
    RC(zoo_get(anon, kid, 0, buf, &len, &st), ZNOAUTH);
    RC(zoo_set_acl(alice, path, 5, &ZOO_OPEN_ACL_UNSAFE), ZBADVERSION);
    RC(zoo_set_acl(alice, path, 0, &ZOO_OPEN_ACL_UNSAFE), ZOK);
    RC(zoo_set(anon, path, "open", 4, -1), ZOK);
    /* CREATOR_ALL without auth: invalid ACL */
    p(kid, "/noauth");
    RC(zoo_create(anon, kid, "", 0, &ZOO_CREATOR_ALL_ACL, 0, NULL, 0), ZINVALIDACL);
    zookeeper_close(alice);
    zookeeper_close(anon);
    zookeeper_close(zh);
    return 0;
}

static int t_ttl_container(void) {
    zhandle_t *zh = connect_zk();
    CHECK(zh, "connect");
    char ttl[256], cont[256], kid[256];
    struct Stat st;
    p(ttl, "/ttl");
    p(cont, "/container");
    RC(zoo_create2_ttl(zh, ttl, "", 0, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT_WITH_TTL, 500, NULL, 0, &st), ZOK);
    RC(zoo_create(zh, cont, "", 0, &ZOO_OPEN_ACL_UNSAFE, ZOO_CONTAINER, NULL, 0), ZOK);
    snprintf(kid, sizeof kid, "%s/kid", cont);
    RC(zoo_create(zh, kid, "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0), ZOK);
    RC(zoo_delete(zh, kid, -1), ZOK);
    int gone = 0;
    for (int i = 0; i < 300 && !gone; i++) {
        gone = zoo_exists(zh, ttl, 0, &st) == ZNONODE && zoo_exists(zh, cont, 0, &st) == ZNONODE;
        if (!gone) {
            usleep(100000);
        }
    }
    CHECK(gone, "ttl node / emptied container not reaped within 30 s");
    zookeeper_close(zh);
    return 0;
}

static void delete_tree(zhandle_t *zh, const char *path) {
    struct String_vector kids;
    if (zoo_get_children(zh, path, 0, &kids) == ZOK) {
        for (int i = 0; i < kids.count; i++) {
            char kid[512];
            snprintf(kid, sizeof kid, "%s/%s", path, kids.data[i]);
            delete_tree(zh, kid);
        }
        deallocate_String_vector(&kids);
    }
    zoo_delete(zh, path, -1);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s host:port,host:port,...\n", argv[0]);
        return 2;
    }
    connect_string = argv[1];
    zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    snprintf(root, sizeof root, "/matrix-c-%08x", (unsigned)rand());
    zhandle_t *zh = connect_zk();
    if (!zh || zoo_create(zh, root, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0) != ZOK) {
        printf("RESULT connect FAIL cannot connect/create %s\n", root);
        return 1;
    }
    run("crud", t_crud);
    run("sequential_ephemeral", t_sequential_ephemeral);
    run("watches", t_watches);
    run("multi", t_multi);
    run("acl", t_acl);
    run("ttl_container", t_ttl_container);
    delete_tree(zh, root);
    zookeeper_close(zh);
    return failures ? 1 : 0;
}
