/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The ledger database. Statements are prepared once per connection and reset after each use; every write
 * goes through store_begin() … store_commit() so that it is one transaction and, if it changed anything,
 * one block. */

#include <limits.h>
#include <sqlite3.h>
#include <time.h>

#include "ledger-digest.h"
#include "ledger-store.h"
#include "macro.h"
#include "sdloop-codec.h"
#include "sdloop-error.h"

/* Wait this long for another process's write transaction before giving up. */
#define STORE_BUSY_TIMEOUT_MSEC 5000

typedef enum StoreStatement {
        STMT_BEGIN,
        STMT_COMMIT,
        STMT_ROLLBACK,
        STMT_DATA_VERSION,
        STMT_BLOCK_HEIGHT,
        STMT_BLOCK_INSERT,
        STMT_NODE_UPSERT,
        STMT_NODE_COUNT,
        STMT_NODE_PAGE,
        STMT_BALANCE_SEED,
        STMT_BALANCE_GET,
        STMT_BALANCE_SET,
        STMT_TRANSFER_INSERT,
        STMT_CONFIG_LATEST,
        STMT_CONFIG_IN_BLOCK,
        STMT_CONFIG_INSERT,
        STMT_TRANSMISSION_EXISTS,
        STMT_TRANSMISSION_LATEST,
        STMT_TRANSMISSION_LATEST_DIGEST,
        STMT_TRANSMISSION_INSERT,
        STMT_TRANSMISSION_COUNT,
        _STMT_MAX,
} StoreStatement;

static const char *const statement_sql[_STMT_MAX] = {
        [STMT_BEGIN] = "BEGIN IMMEDIATE",
        [STMT_COMMIT] = "COMMIT",
        [STMT_ROLLBACK] = "ROLLBACK",
        [STMT_DATA_VERSION] = "PRAGMA data_version",
        [STMT_BLOCK_HEIGHT] = "SELECT COALESCE(MAX(height), 0) FROM blocks",
        [STMT_BLOCK_INSERT] = "INSERT INTO blocks (height, time_usec, kind) VALUES (?1, ?2, ?3)",
        [STMT_NODE_UPSERT] =
                "INSERT INTO nodes (name, config, state) VALUES (?1, ?2, ?3) "
                "ON CONFLICT (name) DO UPDATE SET config = excluded.config, state = excluded.state "
                "WHERE config IS NOT excluded.config OR state IS NOT excluded.state",
        [STMT_NODE_COUNT] = "SELECT COUNT(*) FROM nodes",
        [STMT_NODE_PAGE] = "SELECT name, config, state FROM nodes ORDER BY position LIMIT ?1 OFFSET ?2",
        [STMT_BALANCE_SEED] = "INSERT OR IGNORE INTO balances (account, balance) VALUES (?1, ?2)",
        [STMT_BALANCE_GET] = "SELECT balance FROM balances WHERE account = ?1",
        [STMT_BALANCE_SET] =
                "INSERT INTO balances (account, balance) VALUES (?1, ?2) "
                "ON CONFLICT (account) DO UPDATE SET balance = excluded.balance",
        [STMT_TRANSFER_INSERT] =
                "INSERT INTO transfers (block, sender, recipient, amount, balance_check) VALUES (?1, ?2, ?3, ?4, ?5)",
        [STMT_CONFIG_LATEST] =
                "SELECT block, digest, record FROM configs WHERE contract_id = ?1 "
                "ORDER BY config_count DESC LIMIT 1",
        [STMT_CONFIG_IN_BLOCK] = "SELECT block, digest, record FROM configs WHERE contract_id = ?1 AND block = ?2",
        [STMT_CONFIG_INSERT] =
                "INSERT INTO configs (contract_id, config_count, block, digest, record) VALUES (?1, ?2, ?3, ?4, ?5)",
        [STMT_TRANSMISSION_EXISTS] =
                "SELECT 1 FROM transmissions WHERE contract_id = ?1 AND digest = ?2 AND epoch = ?3 AND round = ?4",
        [STMT_TRANSMISSION_LATEST] =
                "SELECT digest, epoch, round, block, time_usec, transmitter, answer FROM transmissions "
                "WHERE contract_id = ?1 AND time_usec >= ?2 ORDER BY id DESC LIMIT 1",
        [STMT_TRANSMISSION_LATEST_DIGEST] =
                "SELECT digest, epoch, round, block, time_usec, transmitter, answer FROM transmissions "
                "WHERE contract_id = ?1 AND time_usec >= ?2 AND digest = ?3 ORDER BY id DESC LIMIT 1",
        [STMT_TRANSMISSION_INSERT] =
                "INSERT INTO transmissions "
                "(contract_id, digest, epoch, round, block, time_usec, transmitter, answer, report) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        /* One statement, one snapshot: the count and the latest row agree. */
        [STMT_TRANSMISSION_COUNT] =
                "SELECT COUNT(*), "
                "COALESCE((SELECT epoch FROM transmissions WHERE contract_id = ?1 ORDER BY id DESC LIMIT 1), 0), "
                "COALESCE((SELECT round FROM transmissions WHERE contract_id = ?1 ORDER BY id DESC LIMIT 1), 0) "
                "FROM transmissions WHERE contract_id = ?1",
};

/* Version 1. Balances and answers are decimal TEXT: they do not fit SQLite's 64-bit integers. */
static const char schema_v1[] =
        "CREATE TABLE meta ("
        "        key TEXT PRIMARY KEY,"
        "        value TEXT NOT NULL"
        ") WITHOUT ROWID;"
        "CREATE TABLE blocks ("
        "        height INTEGER PRIMARY KEY,"
        "        time_usec INTEGER NOT NULL,"
        "        kind TEXT NOT NULL"
        ");"
        "CREATE TABLE nodes ("
        "        position INTEGER PRIMARY KEY,"
        "        name TEXT NOT NULL UNIQUE,"
        "        config TEXT NOT NULL,"
        "        state TEXT NOT NULL"
        ");"
        "CREATE TABLE balances ("
        "        account TEXT PRIMARY KEY,"
        "        balance TEXT NOT NULL"
        ") WITHOUT ROWID;"
        "CREATE TABLE transfers ("
        "        id INTEGER PRIMARY KEY,"
        "        block INTEGER NOT NULL REFERENCES blocks (height),"
        "        sender TEXT NOT NULL,"
        "        recipient TEXT NOT NULL,"
        "        amount TEXT NOT NULL,"
        "        balance_check INTEGER NOT NULL"
        ");"
        "CREATE TABLE configs ("
        "        contract_id TEXT NOT NULL,"
        "        config_count INTEGER NOT NULL,"
        "        block INTEGER NOT NULL REFERENCES blocks (height),"
        "        digest BLOB NOT NULL,"
        "        record BLOB NOT NULL,"
        "        PRIMARY KEY (contract_id, config_count)"
        ");"
        "CREATE INDEX configs_by_block ON configs (contract_id, block);"
        "CREATE TABLE transmissions ("
        "        id INTEGER PRIMARY KEY,"
        "        contract_id TEXT NOT NULL,"
        "        digest BLOB NOT NULL,"
        "        epoch INTEGER NOT NULL,"
        "        round INTEGER NOT NULL,"
        "        block INTEGER NOT NULL REFERENCES blocks (height),"
        "        time_usec INTEGER NOT NULL,"
        "        transmitter TEXT NOT NULL,"
        "        answer TEXT NOT NULL,"
        "        report BLOB NOT NULL,"
        "        UNIQUE (contract_id, digest, epoch, round)"
        ");"
        "CREATE INDEX transmissions_by_time ON transmissions (contract_id, time_usec);";

struct LedgerStore {
        unsigned n_ref;
        sqlite3 *db;
        char *path;
        char *chain_id;
        sqlite3_stmt *statements[_STMT_MAX];
        LedgerClock clock;
        void *clock_userdata;
};

void ledger_transmission_done(LedgerTransmission *t) {
        if (!t)
                return;
        free(t->transmitter);
        free(t->answer);
        *t = (LedgerTransmission) {};
}

static uint64_t clock_realtime(void *userdata) {
        struct timespec ts;

        if (clock_gettime(CLOCK_REALTIME, &ts) < 0)
                return 0;
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / NSEC_PER_USEC;
}

/* --- errors and statements ------------------------------------------------------------------------------ */

static int store_error(LedgerStore *s, sd_bus_error *error, int rc, const char *what) {
        /* A write lock held too long by another process is a timeout, not a broken ledger. */
        if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) /* extended codes included */
                return sdloop_error_setf(error, SDLOOP_ERROR_TIMEOUT, "ledger %s: %s: database is busy", s->path, what);
        return sdloop_error_setf(error, SDLOOP_ERROR_INTERNAL, "ledger %s: %s: %s", s->path, what,
                                 s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
}

static int store_corrupt(LedgerStore *s, sd_bus_error *error, const char *what) {
        return sdloop_error_setf(error, SDLOOP_ERROR_INTERNAL, "ledger %s: corrupt %s", s->path, what);
}

static void stmt_resetp(sqlite3_stmt **st) {
        if (!*st)
                return;
        (void) sqlite3_reset(*st);
        (void) sqlite3_clear_bindings(*st);
}
#define _cleanup_stmt_ _cleanup_(stmt_resetp)

static int store_statement(LedgerStore *s, StoreStatement id, sqlite3_stmt **ret, sd_bus_error *error) {
        int rc;

        assert(id < _STMT_MAX);

        if (!s->statements[id]) {
                rc = sqlite3_prepare_v3(s->db, statement_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                                        &s->statements[id], NULL);
                if (rc != SQLITE_OK)
                        return store_error(s, error, rc, "preparing statement");
        }
        *ret = s->statements[id];
        return 0;
}

/* 1 for a row, 0 when done. */
static int store_step(LedgerStore *s, sqlite3_stmt *st, const char *what, sd_bus_error *error) {
        int rc;

        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
                return 1;
        if (rc == SQLITE_DONE)
                return 0;
        return store_error(s, error, rc, what);
}

/* Run a statement that returns no rows. */
static int store_exec(LedgerStore *s, StoreStatement id, const char *what, sd_bus_error *error) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        r = store_statement(s, id, &st, error);
        if (r < 0)
                return r;
        r = store_step(s, st, what, error);
        return r < 0 ? r : 0;
}

static int bind_text(sqlite3_stmt *st, int i, const char *text) {
        return sqlite3_bind_text(st, i, text, -1, SQLITE_STATIC);
}

static int bind_blob(sqlite3_stmt *st, int i, const void *data, size_t size) {
        /* A NULL pointer would bind SQL NULL; an empty blob is still a blob. */
        if (size > INT_MAX)
                return SQLITE_TOOBIG;
        return sqlite3_bind_blob(st, i, size > 0 ? data : "", (int) size, SQLITE_STATIC);
}

/* Bind a sequence of results: stop at the first failure. */
#define BIND_ALL(...)                                                   \
        ({                                                              \
                int _rcs_[] = { __VA_ARGS__ }, _rc_ = SQLITE_OK;        \
                for (size_t _i_ = 0; _i_ < ELEMENTSOF(_rcs_); _i_++)    \
                        if (_rcs_[_i_] != SQLITE_OK) {                  \
                                _rc_ = _rcs_[_i_];                      \
                                break;                                  \
                        }                                               \
                _rc_;                                                   \
        })

static int column_dup(LedgerStore *s, sqlite3_stmt *st, int i, char **ret, sd_bus_error *error) {
        const unsigned char *t = sqlite3_column_text(st, i);
        char *copy;

        if (!t)
                return sqlite3_errcode(s->db) == SQLITE_NOMEM ? -ENOMEM : store_corrupt(s, error, "text column");
        copy = strdup((const char *) t);
        if (!copy)
                return -ENOMEM;
        *ret = copy;
        return 0;
}

static int column_digest(LedgerStore *s, sqlite3_stmt *st, int i, uint8_t ret[static SDLOOP_DIGEST_SIZE],
                         sd_bus_error *error) {
        const void *p = sqlite3_column_blob(st, i);

        if (!p || sqlite3_column_bytes(st, i) != (int) SDLOOP_DIGEST_SIZE)
                return store_corrupt(s, error, "digest");
        memcpy(ret, p, SDLOOP_DIGEST_SIZE);
        return 0;
}

/* --- transactions and blocks ---------------------------------------------------------------------------- */

static int store_begin(LedgerStore *s, sd_bus_error *error) {
        return store_exec(s, STMT_BEGIN, "beginning transaction", error);
}

static void store_rollback(LedgerStore *s) {
        if (s && !sqlite3_get_autocommit(s->db))
                (void) store_exec(s, STMT_ROLLBACK, "rolling back", NULL);
}

/* For _cleanup_: a transaction still open at the end of a scope is rolled back. */
static void store_rollbackp(LedgerStore **s) {
        store_rollback(*s);
}
#define _cleanup_transaction_ _cleanup_(store_rollbackp)

static int store_commit(LedgerStore *s, sd_bus_error *error) {
        int r;

        r = store_exec(s, STMT_COMMIT, "committing", error);
        if (r < 0)
                store_rollback(s);
        return r;
}

static int store_height(LedgerStore *s, uint64_t *ret, sd_bus_error *error) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        r = store_statement(s, STMT_BLOCK_HEIGHT, &st, error);
        if (r < 0)
                return r;
        r = store_step(s, st, "reading block height", error);
        if (r < 0)
                return r;
        if (r == 0 || sqlite3_column_int64(st, 0) < 0)
                return store_corrupt(s, error, "block height");
        *ret = (uint64_t) sqlite3_column_int64(st, 0);
        return 0;
}

/* Inside a transaction: append the block this transaction becomes. */
static int store_new_block(LedgerStore *s, const char *kind, uint64_t *ret_height, uint64_t *ret_time,
                           sd_bus_error *error) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        uint64_t height, now;
        int r, rc;

        r = store_height(s, &height, error);
        if (r < 0)
                return r;
        if (height >= INT64_MAX)
                return store_corrupt(s, error, "block height");
        height++;
        now = ledger_store_now(s);

        r = store_statement(s, STMT_BLOCK_INSERT, &st, error);
        if (r < 0)
                return r;
        rc = BIND_ALL(sqlite3_bind_int64(st, 1, (int64_t) height),
                      sqlite3_bind_int64(st, 2, (int64_t) MIN(now, (uint64_t) INT64_MAX)),
                      bind_text(st, 3, kind));
        if (rc != SQLITE_OK)
                return store_error(s, error, rc, "binding block");
        r = store_step(s, st, "appending block", error);
        if (r < 0)
                return r;

        *ret_height = height;
        if (ret_time)
                *ret_time = now;
        return 0;
}

/* --- open, schema ---------------------------------------------------------------------------------------- */

static int store_exec_sql(LedgerStore *s, const char *sql, const char *what, sd_bus_error *error) {
        int rc;

        rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
        if (rc != SQLITE_OK)
                return store_error(s, error, rc, what);
        return 0;
}

static int store_user_version(LedgerStore *s, int *ret, sd_bus_error *error) {
        sqlite3_stmt *st = NULL;
        int rc, r;

        rc = sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL);
        if (rc != SQLITE_OK)
                return store_error(s, error, rc, "reading schema version");
        r = store_step(s, st, "reading schema version", error);
        if (r > 0)
                *ret = sqlite3_column_int(st, 0);
        (void) sqlite3_finalize(st);
        if (r == 0)
                return store_corrupt(s, error, "schema version");
        return r < 0 ? r : 0;
}

/* Check (or, for a new ledger, record) the chain the ledger belongs to. */
static int store_check_chain(LedgerStore *s, bool created, sd_bus_error *error) {
        sqlite3_stmt *st = NULL;
        const char *sql = created ? "INSERT INTO meta (key, value) VALUES ('chain_id', ?1)"
                                  : "SELECT value FROM meta WHERE key = 'chain_id'";
        int rc, r;

        rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
        if (rc != SQLITE_OK)
                return store_error(s, error, rc, "reading chain id");
        if (created && (rc = bind_text(st, 1, s->chain_id)) != SQLITE_OK) {
                (void) sqlite3_finalize(st);
                return store_error(s, error, rc, "binding chain id");
        }
        r = store_step(s, st, "reading chain id", error);
        if (r > 0 && !created) {
                const char *stored = (const char *) sqlite3_column_text(st, 0);

                if (!streq_ptr(stored, s->chain_id))
                        r = sdloop_error_setf(error, SDLOOP_ERROR_INVALID_ARGUMENT,
                                              "ledger %s belongs to chain \"%s\", not \"%s\"", s->path,
                                              strempty(stored), s->chain_id);
        } else if (r == 0 && !created)
                r = store_corrupt(s, error, "meta table (no chain_id)");
        (void) sqlite3_finalize(st);
        return r < 0 ? r : 0;
}

static int store_migrate(LedgerStore *s, sd_bus_error *error) {
        _cleanup_transaction_ LedgerStore *tx = NULL;
        int version = 0, r;

        /* IMMEDIATE: two processes opening a fresh ledger at once must not both create the schema. */
        r = store_begin(s, error);
        if (r < 0)
                return r;
        tx = s;

        r = store_user_version(s, &version, error);
        if (r < 0)
                return r;
        if (version > LEDGER_SCHEMA_VERSION)
                return sdloop_error_setf(error, SDLOOP_ERROR_INVALID_ARGUMENT,
                                         "ledger %s has schema version %i, this relayer knows up to %i", s->path,
                                         version, LEDGER_SCHEMA_VERSION);
        if (version == 0) {
                r = store_exec_sql(s, schema_v1, "creating schema", error);
                if (r < 0)
                        return r;
                r = store_exec_sql(s, "PRAGMA user_version = 1", "setting schema version", error);
                if (r < 0)
                        return r;
        }
        /* Later versions migrate here, one step at a time. */

        r = store_check_chain(s, version == 0, error);
        if (r < 0)
                return r;

        return store_commit(TAKE_PTR(tx), error);
}

static void store_free(LedgerStore *s) {
        for (size_t i = 0; i < _STMT_MAX; i++)
                (void) sqlite3_finalize(s->statements[i]);
        (void) sqlite3_close_v2(s->db);
        free(s->path);
        free(s->chain_id);
        free(s);
}

int ledger_store_open(const char *path, const char *chain_id, LedgerStore **ret, sd_bus_error *error) {
        LedgerStore *s;
        int rc, r;

        assert(path);
        assert(chain_id);
        assert(ret);

        s = new0(LedgerStore, 1);
        if (!s)
                return -ENOMEM;
        s->n_ref = 1;
        s->clock = clock_realtime;
        s->path = strdup(path);
        s->chain_id = strdup(chain_id);
        if (!s->path || !s->chain_id) {
                store_free(s);
                return -ENOMEM;
        }

        rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
        if (rc != SQLITE_OK) {
                r = store_error(s, error, rc, "opening");
                store_free(s);
                return r;
        }
        (void) sqlite3_extended_result_codes(s->db, true);
        (void) sqlite3_busy_timeout(s->db, STORE_BUSY_TIMEOUT_MSEC);

        /* WAL: readers do not block the writer. synchronous=FULL: a committed block survives power loss. */
        r = store_exec_sql(s, "PRAGMA journal_mode = WAL", "enabling WAL", error);
        if (r >= 0)
                r = store_exec_sql(s, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON", "setting pragmas", error);
        if (r >= 0)
                r = store_migrate(s, error);
        if (r < 0) {
                store_free(s);
                return r;
        }

        *ret = s;
        return 0;
}

LedgerStore *ledger_store_ref(LedgerStore *s) {
        if (s)
                s->n_ref++;
        return s;
}

LedgerStore *ledger_store_unref(LedgerStore *s) {
        if (!s)
                return NULL;
        assert(s->n_ref > 0);
        if (--s->n_ref == 0)
                store_free(s);
        return NULL;
}

const char *ledger_store_get_path(LedgerStore *s) {
        return s->path;
}

const char *ledger_store_get_chain_id(LedgerStore *s) {
        return s->chain_id;
}

void ledger_store_set_clock(LedgerStore *s, LedgerClock clock, void *userdata) {
        s->clock = clock ?: clock_realtime;
        s->clock_userdata = userdata;
}

uint64_t ledger_store_now(LedgerStore *s) {
        return s->clock(s->clock_userdata);
}

int ledger_store_data_version(LedgerStore *s, int64_t *ret, sd_bus_error *error) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        r = store_statement(s, STMT_DATA_VERSION, &st, error);
        if (r < 0)
                return r;
        r = store_step(s, st, "reading data version", error);
        if (r < 0)
                return r;
        if (r == 0)
                return store_corrupt(s, error, "data version");
        *ret = sqlite3_column_int64(st, 0);
        return 0;
}

int ledger_store_block_height(LedgerStore *s, uint64_t *ret, sd_bus_error *error) {
        return store_height(s, ret, error);
}

/* --- nodes ------------------------------------------------------------------------------------------------ */

int ledger_store_seed_nodes(LedgerStore *s, const LedgerNode *nodes, size_t n, sd_bus_error *error) {
        _cleanup_transaction_ LedgerStore *tx = NULL;
        bool changed = false;
        uint64_t height;
        int r, rc;

        if (n == 0)
                return 0;

        r = store_begin(s, error);
        if (r < 0)
                return r;
        tx = s;

        for (size_t i = 0; i < n; i++) {
                _cleanup_stmt_ sqlite3_stmt *st = NULL;

                r = store_statement(s, STMT_NODE_UPSERT, &st, error);
                if (r < 0)
                        return r;
                rc = BIND_ALL(bind_text(st, 1, nodes[i].name), bind_text(st, 2, nodes[i].config),
                              bind_text(st, 3, nodes[i].state));
                if (rc != SQLITE_OK)
                        return store_error(s, error, rc, "binding node");
                r = store_step(s, st, "seeding node", error);
                if (r < 0)
                        return r;
                changed = changed || sqlite3_changes(s->db) > 0;
        }

        if (!changed)
                return 0; /* rolled back: nothing to make a block of */

        r = store_new_block(s, "nodes", &height, NULL, error);
        if (r < 0)
                return r;
        return store_commit(TAKE_PTR(tx), error);
}

int ledger_store_list_nodes(LedgerStore *s, uint64_t offset, uint64_t limit, LedgerNode **ret, size_t *ret_n,
                            uint64_t *ret_total, sd_bus_error *error) {
        _cleanup_stmt_ sqlite3_stmt *count = NULL, *page = NULL;
        LedgerNode *nodes = NULL;
        size_t n = 0;
        uint64_t total;
        int r, rc;

        assert(ret);
        assert(ret_n);
        assert(ret_total);

        r = store_statement(s, STMT_NODE_COUNT, &count, error);
        if (r < 0)
                return r;
        r = store_step(s, count, "counting nodes", error);
        if (r < 0)
                return r;
        if (r == 0 || sqlite3_column_int64(count, 0) < 0)
                return store_corrupt(s, error, "node count");
        total = (uint64_t) sqlite3_column_int64(count, 0);

        r = store_statement(s, STMT_NODE_PAGE, &page, error);
        if (r < 0)
                return r;
        /* LIMIT -1: no limit. */
        rc = BIND_ALL(sqlite3_bind_int64(page, 1, limit == 0 || limit > INT64_MAX ? -1 : (int64_t) limit),
                      sqlite3_bind_int64(page, 2, (int64_t) MIN(offset, (uint64_t) INT64_MAX)));
        if (rc != SQLITE_OK)
                return store_error(s, error, rc, "binding page");

        for (;;) {
                LedgerNode *grown;

                r = store_step(s, page, "listing nodes", error);
                if (r <= 0)
                        break;

                grown = reallocarray(nodes, n + 1, sizeof(LedgerNode));
                if (!grown) {
                        r = -ENOMEM;
                        break;
                }
                nodes = grown;
                nodes[n] = (LedgerNode) {};
                n++;
                r = column_dup(s, page, 0, &nodes[n - 1].name, error);
                if (r >= 0)
                        r = column_dup(s, page, 1, &nodes[n - 1].config, error);
                if (r >= 0)
                        r = column_dup(s, page, 2, &nodes[n - 1].state, error);
                if (r < 0)
                        break;
        }
        if (r < 0) {
                ledger_node_array_free(nodes, n);
                return r;
        }

        *ret = nodes;
        *ret_n = n;
        *ret_total = total;
        return 0;
}

/* --- balances --------------------------------------------------------------------------------------------- */

int ledger_store_seed_balances(LedgerStore *s, const LedgerBalance *balances, size_t n, sd_bus_error *error) {
        _cleanup_transaction_ LedgerStore *tx = NULL;
        bool changed = false;
        uint64_t height;
        int r, rc;

        if (n == 0)
                return 0;

        r = store_begin(s, error);
        if (r < 0)
                return r;
        tx = s;

        for (size_t i = 0; i < n; i++) {
                _cleanup_stmt_ sqlite3_stmt *st = NULL;

                r = store_statement(s, STMT_BALANCE_SEED, &st, error);
                if (r < 0)
                        return r;
                rc = BIND_ALL(bind_text(st, 1, balances[i].account), bind_text(st, 2, balances[i].amount));
                if (rc != SQLITE_OK)
                        return store_error(s, error, rc, "binding balance");
                r = store_step(s, st, "seeding balance", error);
                if (r < 0)
                        return r;
                changed = changed || sqlite3_changes(s->db) > 0;
        }

        if (!changed)
                return 0;

        r = store_new_block(s, "balances", &height, NULL, error);
        if (r < 0)
                return r;
        return store_commit(TAKE_PTR(tx), error);
}

int ledger_store_balance(LedgerStore *s, const char *account, __int128 *ret, sd_bus_error *error) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        __int128 v = 0;
        int r, rc;

        assert(account);
        assert(ret);

        r = store_statement(s, STMT_BALANCE_GET, &st, error);
        if (r < 0)
                return r;
        rc = bind_text(st, 1, account);
        if (rc != SQLITE_OK)
                return store_error(s, error, rc, "binding account");
        r = store_step(s, st, "reading balance", error);
        if (r < 0)
                return r;
        if (r > 0 && sdloop_decimal_to_i128((const char *) sqlite3_column_text(st, 0), &v) < 0)
                return store_corrupt(s, error, "balance");

        *ret = v;
        return 0;
}

static int store_set_balance(LedgerStore *s, const char *account, __int128 v, sd_bus_error *error) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        char buf[41];
        int r, rc;

        r = store_statement(s, STMT_BALANCE_SET, &st, error);
        if (r < 0)
                return r;
        rc = BIND_ALL(bind_text(st, 1, account), bind_text(st, 2, sdloop_decimal_from_i128(v, buf)));
        if (rc != SQLITE_OK)
                return store_error(s, error, rc, "binding balance");
        r = store_step(s, st, "writing balance", error);
        return r < 0 ? r : 0;
}

int ledger_store_transact(LedgerStore *s, const char *from, const char *to, __int128 amount, bool balance_check,
                          uint64_t *ret_block, sd_bus_error *error) {
        _cleanup_transaction_ LedgerStore *tx = NULL;
        __int128 from_balance, to_balance, from_after, to_after;
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        char a[41], b[41];
        uint64_t height;
        int r, rc;

        assert(from);
        assert(to);

        if (isempty(from))
                return sdloop_error_invalid(error, "from", "empty account");
        if (isempty(to))
                return sdloop_error_invalid(error, "to", "empty account");
        if (amount < 0)
                return sdloop_error_invalid(error, "amount", "negative amount %s", sdloop_decimal_from_i128(amount, a));

        r = store_begin(s, error);
        if (r < 0)
                return r;
        tx = s;

        r = ledger_store_balance(s, from, &from_balance, error);
        if (r < 0)
                return r;
        r = ledger_store_balance(s, to, &to_balance, error);
        if (r < 0)
                return r;

        if (balance_check && from_balance < amount)
                return sdloop_error_invalid(error, "amount", "insufficient balance: %s has %s, %s requested", from,
                                            sdloop_decimal_from_i128(from_balance, a),
                                            sdloop_decimal_from_i128(amount, b));

        if (streq(from, to))
                from_after = to_after = from_balance;
        else {
                if (__builtin_sub_overflow(from_balance, amount, &from_after))
                        return sdloop_error_invalid(error, "amount", "balance of %s would leave the 128-bit range",
                                                    from);
                if (__builtin_add_overflow(to_balance, amount, &to_after))
                        return sdloop_error_invalid(error, "amount", "balance of %s would leave the 128-bit range",
                                                    to);
        }

        r = store_new_block(s, "transact", &height, NULL, error);
        if (r < 0)
                return r;
        r = store_set_balance(s, from, from_after, error);
        if (r < 0)
                return r;
        r = store_set_balance(s, to, to_after, error);
        if (r < 0)
                return r;

        r = store_statement(s, STMT_TRANSFER_INSERT, &st, error);
        if (r < 0)
                return r;
        rc = BIND_ALL(sqlite3_bind_int64(st, 1, (int64_t) height), bind_text(st, 2, from), bind_text(st, 3, to),
                      bind_text(st, 4, sdloop_decimal_from_i128(amount, a)), sqlite3_bind_int(st, 5, balance_check));
        if (rc != SQLITE_OK)
                return store_error(s, error, rc, "binding transfer");
        r = store_step(s, st, "recording transfer", error);
        if (r < 0)
                return r;

        r = store_commit(TAKE_PTR(tx), error);
        if (r < 0)
                return r;
        if (ret_block)
                *ret_block = height;
        return 0;
}

/* --- contract configurations ------------------------------------------------------------------------------ */

/* Read one row of (block, digest, record) into a config, checking that the stored digest is the one the
 * record hashes to: a ledger edited behind our back is reported, not trusted. */
static int store_read_config_row(LedgerStore *s, const char *contract_id, sqlite3_stmt *st, uint64_t *ret_block,
                                 SdloopContractConfig *ret, sd_bus_error *error) {
        _cleanup_(sdloop_contract_config_done) SdloopContractConfig c = {};
        _cleanup_free_ char *chain_id = NULL, *stored_contract = NULL;
        uint8_t stored[SDLOOP_DIGEST_SIZE];
        int64_t block;
        int r;

        block = sqlite3_column_int64(st, 0);
        if (block <= 0)
                return store_corrupt(s, error, "config block");
        r = column_digest(s, st, 1, stored, error);
        if (r < 0)
                return r;

        if (ret) {
                r = ledger_config_decode(sqlite3_column_blob(st, 2), (size_t) sqlite3_column_bytes(st, 2), &c,
                                         &chain_id, &stored_contract);
                if (r == -ENOMEM)
                        return r;
                if (r < 0 || !streq(chain_id, s->chain_id) || !streq(stored_contract, contract_id))
                        return store_corrupt(s, error, "config record");
                r = ledger_config_digest(s->chain_id, contract_id, &c, c.digest);
                if (r < 0)
                        return r;
                if (memcmp(c.digest, stored, SDLOOP_DIGEST_SIZE) != 0)
                        return store_corrupt(s, error, "config digest");
                *ret = c;
                c = (SdloopContractConfig) {};
        }
        if (ret_block)
                *ret_block = (uint64_t) block;
        return 0;
}

int ledger_store_latest_config(LedgerStore *s, const char *contract_id, uint64_t *ret_block,
                               SdloopContractConfig *ret, sd_bus_error *error) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r, rc;

        assert(contract_id);

        r = store_statement(s, STMT_CONFIG_LATEST, &st, error);
        if (r < 0)
                return r;
        rc = bind_text(st, 1, contract_id);
        if (rc != SQLITE_OK)
                return store_error(s, error, rc, "binding contract");
        r = store_step(s, st, "reading config", error);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOENT;
        return store_read_config_row(s, contract_id, st, ret_block, ret, error);
}

int ledger_store_config_in_block(LedgerStore *s, const char *contract_id, uint64_t block,
                                 SdloopContractConfig *ret, sd_bus_error *error) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r, rc;

        assert(contract_id);
        assert(ret);

        if (block > INT64_MAX)
                return sdloop_error_setf(error, SDLOOP_ERROR_NOT_FOUND, "no configuration of %s set in block %" PRIu64,
                                         contract_id, block);

        r = store_statement(s, STMT_CONFIG_IN_BLOCK, &st, error);
        if (r < 0)
                return r;
        rc = BIND_ALL(bind_text(st, 1, contract_id), sqlite3_bind_int64(st, 2, (int64_t) block));
        if (rc != SQLITE_OK)
                return store_error(s, error, rc, "binding config query");
        r = store_step(s, st, "reading config", error);
        if (r < 0)
                return r;
        if (r == 0)
                return sdloop_error_setf(error, SDLOOP_ERROR_NOT_FOUND, "no configuration of %s set in block %" PRIu64,
                                         contract_id, block);
        return store_read_config_row(s, contract_id, st, NULL, ret, error);
}

int ledger_store_seed_config(LedgerStore *s, const char *contract_id, const SdloopContractConfig *seed,
                             bool *ret_changed, sd_bus_error *error) {
        _cleanup_(sdloop_contract_config_done) SdloopContractConfig latest = {};
        _cleanup_transaction_ LedgerStore *tx = NULL;
        _cleanup_(sdloop_bytes_done) SdloopBytes record = {};
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        SdloopContractConfig c;
        uint64_t height;
        int r, rc;

        assert(contract_id);
        assert(seed);

        r = store_begin(s, error);
        if (r < 0)
                return r;
        tx = s;

        r = ledger_store_latest_config(s, contract_id, NULL, &latest, error);
        if (r < 0 && r != -ENOENT)
                return r;
        if (r >= 0 && ledger_config_same_content(&latest, seed)) {
                if (ret_changed)
                        *ret_changed = false;
                return 0;
        }

        /* A shallow copy: only count and digest differ from the seed. */
        c = *seed;
        c.config_count = r >= 0 ? latest.config_count + 1 : 1;
        r = ledger_config_digest(s->chain_id, contract_id, &c, c.digest);
        if (r < 0)
                return r;
        r = ledger_config_encode(s->chain_id, contract_id, &c, &record);
        if (r < 0)
                return r;

        r = store_new_block(s, "config", &height, NULL, error);
        if (r < 0)
                return r;

        r = store_statement(s, STMT_CONFIG_INSERT, &st, error);
        if (r < 0)
                return r;
        rc = BIND_ALL(bind_text(st, 1, contract_id), sqlite3_bind_int64(st, 2, (int64_t) c.config_count),
                      sqlite3_bind_int64(st, 3, (int64_t) height), bind_blob(st, 4, c.digest, SDLOOP_DIGEST_SIZE),
                      bind_blob(st, 5, record.data, record.size));
        if (rc != SQLITE_OK)
                return store_error(s, error, rc, "binding config");
        r = store_step(s, st, "writing config", error);
        if (r < 0)
                return r;

        r = store_commit(TAKE_PTR(tx), error);
        if (r < 0)
                return r;
        if (ret_changed)
                *ret_changed = true;
        return 0;
}

/* --- transmissions ---------------------------------------------------------------------------------------- */

static int store_read_transmission(LedgerStore *s, sqlite3_stmt *st, LedgerTransmission *ret, sd_bus_error *error) {
        _cleanup_(ledger_transmission_done) LedgerTransmission t = {};
        int64_t epoch, round, block, time;
        int r;

        r = column_digest(s, st, 0, t.digest, error);
        if (r < 0)
                return r;
        epoch = sqlite3_column_int64(st, 1);
        round = sqlite3_column_int64(st, 2);
        block = sqlite3_column_int64(st, 3);
        time = sqlite3_column_int64(st, 4);
        if (epoch < 0 || epoch > UINT32_MAX || round < 0 || round > UINT8_MAX || block <= 0 || time < 0)
                return store_corrupt(s, error, "transmission");
        t.epoch = (uint32_t) epoch;
        t.round = (uint8_t) round;
        t.block = (uint64_t) block;
        t.time_usec = (uint64_t) time;
        r = column_dup(s, st, 5, &t.transmitter, error);
        if (r < 0)
                return r;
        r = column_dup(s, st, 6, &t.answer, error);
        if (r < 0)
                return r;
        if (!sdloop_decimal_is_valid(t.answer))
                return store_corrupt(s, error, "answer");

        *ret = t;
        t = (LedgerTransmission) {};
        return 0;
}

int ledger_store_latest_transmission(LedgerStore *s, const char *contract_id, const uint8_t *digest,
                                     uint64_t since_usec, LedgerTransmission *ret, sd_bus_error *error) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r, rc;

        assert(contract_id);
        assert(ret);

        r = store_statement(s, digest ? STMT_TRANSMISSION_LATEST_DIGEST : STMT_TRANSMISSION_LATEST, &st, error);
        if (r < 0)
                return r;
        rc = BIND_ALL(bind_text(st, 1, contract_id),
                      sqlite3_bind_int64(st, 2, (int64_t) MIN(since_usec, (uint64_t) INT64_MAX)),
                      digest ? bind_blob(st, 3, digest, SDLOOP_DIGEST_SIZE) : SQLITE_OK);
        if (rc != SQLITE_OK)
                return store_error(s, error, rc, "binding transmission query");
        r = store_step(s, st, "reading transmission", error);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOENT;
        return store_read_transmission(s, st, ret, error);
}

int ledger_store_transmission_count(LedgerStore *s, const char *contract_id, uint64_t *ret_count,
                                    uint32_t *ret_epoch, uint8_t *ret_round, sd_bus_error *error) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r, rc;

        assert(contract_id);

        r = store_statement(s, STMT_TRANSMISSION_COUNT, &st, error);
        if (r < 0)
                return r;
        rc = bind_text(st, 1, contract_id);
        if (rc != SQLITE_OK)
                return store_error(s, error, rc, "binding transmission count");
        r = store_step(s, st, "counting transmissions", error);
        if (r < 0)
                return r;
        if (r == 0)
                return sdloop_error_setf(error, SDLOOP_ERROR_INTERNAL, "counting transmissions: no row");
        if (ret_count)
                *ret_count = (uint64_t) MAX(sqlite3_column_int64(st, 0), (sqlite3_int64) 0);
        if (ret_epoch)
                *ret_epoch = (uint32_t) sqlite3_column_int64(st, 1);
        if (ret_round)
                *ret_round = (uint8_t) sqlite3_column_int(st, 2);
        return 0;
}

static int store_transmission_exists(LedgerStore *s, const char *contract_id, const SdloopReportTimestamp *ts,
                                     sd_bus_error *error) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r, rc;

        r = store_statement(s, STMT_TRANSMISSION_EXISTS, &st, error);
        if (r < 0)
                return r;
        rc = BIND_ALL(bind_text(st, 1, contract_id), bind_blob(st, 2, ts->digest, SDLOOP_DIGEST_SIZE),
                      sqlite3_bind_int64(st, 3, ts->epoch), sqlite3_bind_int(st, 4, ts->round));
        if (rc != SQLITE_OK)
                return store_error(s, error, rc, "binding transmission query");
        return store_step(s, st, "looking up transmission", error);
}

int ledger_store_record_transmission(LedgerStore *s, const char *contract_id, const SdloopReportTimestamp *ts,
                                     const char *transmitter, const char *answer, const void *report, size_t size,
                                     bool *ret_recorded, uint64_t *ret_block, sd_bus_error *error) {
        _cleanup_(ledger_transmission_done) LedgerTransmission latest = {};
        _cleanup_(sdloop_contract_config_done) SdloopContractConfig config = {};
        _cleanup_transaction_ LedgerStore *tx = NULL;
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        uint64_t height, now;
        int r, rc;

        assert(contract_id);
        assert(ts);
        assert(transmitter);
        assert(answer);

        r = store_begin(s, error);
        if (r < 0)
                return r;
        tx = s;

        /* Checked again under the write lock: the config may have changed since the caller verified. */
        r = ledger_store_latest_config(s, contract_id, NULL, &config, error);
        if (r == -ENOENT)
                return sdloop_error_invalid(error, "report_context.digest", "contract %s has no configuration",
                                            contract_id);
        if (r < 0)
                return r;
        if (memcmp(config.digest, ts->digest, SDLOOP_DIGEST_SIZE) != 0) {
                char hex[LEDGER_DIGEST_HEX_SIZE];

                return sdloop_error_invalid(error, "report_context.digest",
                                            "not the current config digest of %s (%s)", contract_id,
                                            ledger_digest_to_hex(config.digest, hex));
        }

        r = store_transmission_exists(s, contract_id, ts, error);
        if (r < 0)
                return r;
        if (r > 0) {
                /* Every transmitter of a round sends the same report: the first one counts. */
                if (ret_recorded)
                        *ret_recorded = false;
                return 0;
        }

        r = ledger_store_latest_transmission(s, contract_id, ts->digest, 0, &latest, error);
        if (r < 0 && r != -ENOENT)
                return r;
        if (r >= 0 && (ts->epoch < latest.epoch || (ts->epoch == latest.epoch && ts->round < latest.round)))
                return sdloop_error_invalid(error, "report_context",
                                            "stale report: epoch %" PRIu32 " round %u is older than the latest "
                                            "transmission (epoch %" PRIu32 " round %u)",
                                            ts->epoch, ts->round, latest.epoch, latest.round);

        r = store_new_block(s, "transmit", &height, &now, error);
        if (r < 0)
                return r;

        r = store_statement(s, STMT_TRANSMISSION_INSERT, &st, error);
        if (r < 0)
                return r;
        rc = BIND_ALL(bind_text(st, 1, contract_id), bind_blob(st, 2, ts->digest, SDLOOP_DIGEST_SIZE),
                      sqlite3_bind_int64(st, 3, ts->epoch), sqlite3_bind_int(st, 4, ts->round),
                      sqlite3_bind_int64(st, 5, (int64_t) height),
                      sqlite3_bind_int64(st, 6, (int64_t) MIN(now, (uint64_t) INT64_MAX)),
                      bind_text(st, 7, transmitter), bind_text(st, 8, answer), bind_blob(st, 9, report, size));
        if (rc != SQLITE_OK)
                return store_error(s, error, rc, "binding transmission");
        r = store_step(s, st, "recording transmission", error);
        if (r < 0)
                return r;

        r = store_commit(TAKE_PTR(tx), error);
        if (r < 0)
                return r;
        if (ret_recorded)
                *ret_recorded = true;
        if (ret_block)
                *ret_block = height;
        return 0;
}
