#include "store/postgres_store.hpp"

#include "core/error.hpp"
#include "core/params.hpp"
#include "core/util.hpp"
#include "store/local_store.hpp"
#include "store/postgres_db.hpp"

#include <algorithm>
#include <cctype>
#include <utility>

namespace mlrun {

namespace {

// Migration N (1-based) brings the schema from version N-1 to N; never edit one that has
// shipped, append another. Keys and filtered columns collate as "C" (bytes), whatever the
// database's locale: id order is creation order and prefix ranges are exact.
const std::vector<const char*>& migrations()
{
    static const std::vector<const char*> k{
        R"sql(
        CREATE TABLE tasks (
            id TEXT COLLATE "C" PRIMARY KEY,
            name TEXT NOT NULL,
            project TEXT COLLATE "C" NOT NULL,
            type TEXT NOT NULL,
            kind TEXT COLLATE "C" NOT NULL,
            status TEXT COLLATE "C" NOT NULL,
            run_id TEXT COLLATE "C" NOT NULL,
            step TEXT NOT NULL,
            parent TEXT NOT NULL,
            queue TEXT NOT NULL,
            cache_key TEXT COLLATE "C" NOT NULL,
            created_ms BIGINT NOT NULL,
            updated_ms BIGINT NOT NULL,
            summary TEXT NOT NULL,
            record TEXT NOT NULL
        );
        CREATE INDEX tasks_run ON tasks(run_id, id);
        CREATE INDEX tasks_status ON tasks(status, id);
        CREATE INDEX tasks_project ON tasks(project, id);
        CREATE INDEX tasks_kind ON tasks(kind, id);
        CREATE INDEX tasks_cache_key ON tasks(cache_key) WHERE cache_key <> '';
        CREATE INDEX tasks_created ON tasks(created_ms);
        CREATE TABLE tags (
            task_id TEXT COLLATE "C" NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
            tag TEXT COLLATE "C" NOT NULL,
            PRIMARY KEY (task_id, tag)
        );
        CREATE INDEX tags_tag ON tags(tag, task_id);
        CREATE TABLE scalars (
            seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            task_id TEXT COLLATE "C" NOT NULL,
            title TEXT NOT NULL,
            series TEXT NOT NULL,
            iteration BIGINT NOT NULL,
            value DOUBLE PRECISION,
            timestamp_ms BIGINT NOT NULL
        );
        CREATE INDEX scalars_task ON scalars(task_id, seq);
        CREATE TABLE records (
            kind TEXT COLLATE "C" NOT NULL,
            id TEXT COLLATE "C" NOT NULL,
            json TEXT NOT NULL,
            PRIMARY KEY (kind, id)
        );
        )sql",
        // 2: the number of tasks kept by a trigger, so an unfiltered count (`task list`'s "N more")
        // reads one row instead of an index of the whole history.
        R"sql(
        CREATE TABLE task_count (n BIGINT NOT NULL);
        INSERT INTO task_count(n) SELECT count(*) FROM tasks;
        CREATE FUNCTION mlrun_task_count() RETURNS trigger LANGUAGE plpgsql AS $fn$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                UPDATE task_count SET n = n + 1;
            ELSE
                UPDATE task_count SET n = n - 1;
            END IF;
            RETURN NULL;
        END
        $fn$;
        CREATE TRIGGER task_count_change AFTER INSERT OR DELETE ON tasks
            FOR EACH ROW EXECUTE FUNCTION mlrun_task_count();
        )sql",
    };
    return k;
}

// Rows per INSERT of a scalar batch (6 parameters each; PostgreSQL takes at most 65535).
constexpr std::size_t k_scalar_rows = 1000;

void check_id(const std::string& id)
{
    check_name(id, "task id");
}

// A column value PostgreSQL accepts: valid UTF-8 without NUL (the record itself is JSON,
// escaped already; a column only has to match what the record says).
std::string column(std::string_view text)
{
    std::string out = valid_utf8(text);
    std::size_t at = 0;
    while ((at = out.find('\0', at)) != std::string::npos) {
        out.replace(at, 1, "\xEF\xBF\xBD");
    }
    return out;
}

// The record and, from the same JSON, the summary a listing shows: params, values and
// artifacts as an empty task has them (the codec always writes those keys).
std::pair<std::string, std::string> record_and_summary(const Task& task)
{
    static const Json k_empty = Task{}.to_json();
    Json j = task.to_json();
    std::string record = dump_json(j);
    for (const char* heavy : {"params", "values", "artifacts"}) {
        j[heavy] = k_empty.at(heavy);
    }
    return {std::move(record), dump_json(j)};
}

Json parse_record(const std::string& text, const std::string& what)
{
    Json j = Json::parse(text, nullptr, false);
    if (j.is_discarded()) {
        throw CorruptRecord(what + ": not valid JSON in the database");
    }
    return j;
}

// A task row's record: CorruptRecord when it is not JSON or not a task.
Task parse_task(const std::string& text, const std::string& id)
{
    Json j = parse_record(text, "task " + id);
    try {
        return Task::from_json(j);
    } catch (const std::exception& e) {
        throw CorruptRecord("task " + id + ": not a task record in the database: " + e.what());
    }
}

// The task of a listed row, or (include_corrupt) a Task with only id and corrupt set;
// nullopt for a corrupt row that is not to be listed.
std::optional<Task> listed_task(const std::string& text, const std::string& id, bool include_corrupt)
{
    Json j = Json::parse(text, nullptr, false);
    std::string why = "the record is not valid JSON";
    if (!j.is_discarded()) {
        try {
            return Task::from_json(j);
        } catch (const std::exception& e) {
            why = std::string("the record is not a task record: ") + e.what();
        }
    }
    if (!include_corrupt) {
        return std::nullopt;
    }
    Task c;
    c.id = id;
    c.corrupt = why;
    return c;
}

// Rows a listing fetches per round trip from its cursor: a long listing streams in pieces.
constexpr std::size_t k_fetch_rows = 500;

// For a query value: unreserved characters and '/' as they are, the rest %XX.
std::string percent_encode(const std::string& text)
{
    static const char* k_hex = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : text) {
        if (std::isalnum(c) || c == '/' || c == '-' || c == '.' || c == '_' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += k_hex[c >> 4];
            out += k_hex[c & 15];
        }
    }
    return out;
}

// The advisory lock key of a run (hashed by the server: every machine agrees on it).
constexpr const char* k_run_lock_key = "hashtextextended('mlrun run ' || $1, 0)";

// A run's lock: a session-level advisory lock on a connection of its own. Unlocked before
// the connection closes, so the next holder never races the old session's exit; a holder
// that dies loses it with its session.
class PostgresRunLock final : public RunLock {
public:
    PostgresRunLock(std::unique_ptr<PostgresDb> conn, std::string run_id)
        : m_conn(std::move(conn)), m_run_id(std::move(run_id))
    {}
    ~PostgresRunLock() override
    {
        try {
            m_conn->exec(std::string("SELECT pg_advisory_unlock(") + k_run_lock_key + ")",
                         PostgresParams().text(m_run_id));
        } catch (const std::exception&) { // closing the connection releases it all the same
        }
    }
    PostgresRunLock(const PostgresRunLock&) = delete;
    PostgresRunLock& operator=(const PostgresRunLock&) = delete;

private:
    std::unique_ptr<PostgresDb> m_conn;
    std::string m_run_id;
};

} // namespace

PostgresStore::PostgresStore(const std::string& uri, const fs::path& artifact_root)
    : m_target(std::make_unique<PostgresTarget>(parse_postgres_uri(uri)))
{
    fs::path root = m_target->artifacts.empty() ? artifact_root : fs::path(m_target->artifacts);
    if (root.empty()) {
        throw UsageError("the PostgreSQL store " + m_target->location
                         + " needs an artifact root for logs, artifacts and datasets (a folder every machine "
                           "mounts at the same path): add ?artifacts=/shared/path to the URI or set "
                           "MLRUN_ARTIFACT_ROOT");
    }
    m_root = fs::absolute(root).lexically_normal();
    if (m_root.filename().empty()) {
        m_root = m_root.parent_path(); // "/shared/" -> "/shared"
    }
    m_files = std::make_unique<LocalStore>(m_root);
}

PostgresStore::~PostgresStore() = default;

std::string PostgresStore::location() const
{
    return m_target->location + " (artifacts " + m_root.string() + ")";
}

std::string PostgresStore::uri() const
{
    const char* sep = m_target->conninfo.find('?') == std::string::npos ? "?" : "&";
    return m_target->conninfo + sep + "artifacts=" + percent_encode(m_root.string());
}

PostgresDb& PostgresStore::db()
{
    if (!m_db) {
        auto opened = std::make_unique<PostgresDb>(*m_target);
        migrate(*opened);
        m_db = std::move(opened);
    }
    return *m_db;
}

void PostgresStore::migrate(PostgresDb& db)
{
    // 0 when there is no schema_version table yet (42P01: undefined table).
    auto read_version = [&]() -> int {
        try {
            return static_cast<int>(db.exec("SELECT coalesce(max(version), 0) FROM schema_version").integer(0, 0));
        } catch (const PostgresError& e) {
            if (e.sqlstate() != "42P01" || db.in_transaction()) {
                throw;
            }
            return 0;
        }
    };
    auto refuse_newer = [&](int version) {
        if (version > k_postgres_schema_version) {
            throw UsageError("store " + m_target->location + " has schema version " + std::to_string(version)
                             + ", newer than this mlrun understands (" + std::to_string(k_postgres_schema_version)
                             + "); upgrade mlrun");
        }
    };
    int version = read_version();
    refuse_newer(version);
    if (version == k_postgres_schema_version) {
        return;
    }
    // Under a transaction-scoped advisory lock: processes opening a new store migrate it once.
    db.transaction([&] {
        db.exec("SELECT pg_advisory_xact_lock(hashtextextended('mlrun schema', 0))");
        db.exec_script("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
        int v = read_version();
        refuse_newer(v);
        for (; v < k_postgres_schema_version; ++v) {
            db.exec_script(migrations()[static_cast<std::size_t>(v)]);
            db.exec("INSERT INTO schema_version(version) VALUES ($1)", PostgresParams().integer(v + 1));
        }
    });
}

void PostgresStore::ensure_created()
{
    std::lock_guard<std::recursive_mutex> lock(m_mutex);
    db();
}

std::unique_ptr<RunLock> PostgresStore::try_lock_run(const std::string& run_id)
{
    check_name(run_id, "run id");
    auto conn = std::make_unique<PostgresDb>(*m_target);
    PostgresResult got = conn->exec(std::string("SELECT pg_try_advisory_lock(") + k_run_lock_key + ")",
                                    PostgresParams().text(run_id));
    if (got.text(0, 0) != "t") {
        return nullptr;
    }
    return std::make_unique<PostgresRunLock>(std::move(conn), run_id);
}

void PostgresStore::write_row(PostgresDb& db, const Task& task, bool insert)
{
    const char* sql = insert ? "INSERT INTO tasks(name, project, type, kind, status, run_id, step, parent, queue, "
                               "cache_key, created_ms, updated_ms, summary, record, id) "
                               "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15) "
                               "ON CONFLICT (id) DO NOTHING"
                             : "UPDATE tasks SET name=$1, project=$2, type=$3, kind=$4, status=$5, run_id=$6, "
                               "step=$7, parent=$8, queue=$9, cache_key=$10, created_ms=$11, updated_ms=$12, "
                               "summary=$13, record=$14 WHERE id=$15";
    auto [record, summary] = record_and_summary(task);
    PostgresParams p;
    p.text(column(task.name))
        .text(column(task.project))
        .text(column(task.type))
        .text(column(task.kind))
        .text(to_string(task.status))
        .text(column(task.run_id))
        .text(column(task.step))
        .text(column(task.parent))
        .text(column(task.queue))
        .text(column(task.cache_key))
        .integer(task.created_ms)
        .integer(task.updated_ms)
        .text(summary)
        .text(record)
        .text(task.id);
    if (!insert) {
        db.defer(sql, p); // the row is locked by this transaction: it is there
        return;
    }
    if (db.exec(sql, p).affected() != 1) {
        throw std::runtime_error("cannot create task " + task.id + ": it exists already");
    }
}

void PostgresStore::write_tags(PostgresDb& db, const Task& task, bool replace)
{
    if (replace) {
        db.defer("DELETE FROM tags WHERE task_id = $1", PostgresParams().text(task.id));
    }
    for (const std::string& tag : task.tags) {
        db.defer("INSERT INTO tags(task_id, tag) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                 PostgresParams().text(task.id).text(column(tag)));
    }
}

void PostgresStore::create(Task& task)
{
    std::lock_guard<std::recursive_mutex> lock(m_mutex);
    PostgresDb& d = db();
    if (task.id.empty()) {
        task.id = new_id();
    }
    check_id(task.id);
    task.created_ms = task.created_ms ? task.created_ms : now_ms();
    task.updated_ms = task.created_ms;
    d.transaction([&] {
        write_row(d, task, true);
        write_tags(d, task, false);
    });
    fs::create_directories(task_dir(task.id));
}

std::optional<Task> PostgresStore::find(const std::string& id)
{
    check_id(id);
    std::lock_guard<std::recursive_mutex> lock(m_mutex);
    PostgresResult r = db().exec("SELECT record FROM tasks WHERE id = $1", PostgresParams().text(id));
    if (r.rows() == 0) {
        return std::nullopt;
    }
    return parse_task(r.text(0, 0), id);
}

Task PostgresStore::update(const std::string& id, const std::function<void(Task&)>& change)
{
    check_id(id);
    std::lock_guard<std::recursive_mutex> lock(m_mutex);
    PostgresDb& d = db();
    Task task;
    d.transaction([&] {
        // The row lock is held until the commit: concurrent updates queue up here.
        PostgresResult r = d.exec("SELECT record FROM tasks WHERE id = $1 FOR UPDATE", PostgresParams().text(id));
        if (r.rows() == 0) {
            throw UsageError("unknown task " + id);
        }
        task = parse_task(r.text(0, 0), id);
        const std::vector<std::string> old_tags = task.tags;
        change(task);
        task.id = id; // the row's key; a change never moves a record
        task.updated_ms = now_ms();
        write_row(d, task, false);
        if (task.tags != old_tags) {
            write_tags(d, task, true);
        }
    });
    return task;
}

namespace {

// The WHERE clause of `filter` (each filter an indexed condition) with its arguments appended
// to `args`; the text depends only on which filters are set.
std::string filter_where(const TaskFilter& filter, PostgresParams& args)
{
    std::string sql = " WHERE true";
    auto next = [&] { return "$" + std::to_string(args.size() + 1); };
    if (!filter.project.empty()) {
        // "a" and every "a/…": '0' is the character after '/' (the column collates as bytes).
        sql += " AND (project = " + next();
        args.text(column(filter.project));
        sql += " OR (project >= " + next();
        args.text(column(filter.project + "/"));
        sql += " AND project < " + next() + "))";
        args.text(column(filter.project + "0"));
    }
    if (filter.status) {
        sql += " AND status = " + next();
        args.text(to_string(*filter.status));
    }
    if (!filter.tag.empty()) {
        sql += " AND id IN (SELECT task_id FROM tags WHERE tag = " + next() + ")";
        args.text(column(filter.tag));
    }
    if (!filter.run_id.empty()) {
        sql += " AND run_id = " + next();
        args.text(column(filter.run_id));
    }
    if (!filter.kind.empty()) {
        sql += " AND kind = " + next();
        args.text(column(filter.kind));
    }
    return sql;
}

} // namespace

std::vector<Task> PostgresStore::list(const TaskFilter& filter)
{
    std::vector<Task> out;
    each(filter, [&](const Task& t) { out.push_back(t); });
    return out;
}

void PostgresStore::each(const TaskFilter& filter, const std::function<void(const Task&)>& fn)
{
    std::lock_guard<std::recursive_mutex> lock(m_mutex);
    PostgresParams args;
    std::string sql = std::string("SELECT ") + (filter.light ? "summary" : "record") + ", id FROM tasks"
                      + filter_where(filter, args);
    sql += filter.newest_first ? " ORDER BY id DESC" : " ORDER BY id";
    if (filter.limit != 0) {
        sql += " LIMIT " + std::to_string(filter.limit);
    }
    auto hand_over = [&](const PostgresResult& r) {
        for (int i = 0; i < r.rows(); ++i) {
            std::optional<Task> t = listed_task(r.text(i, 0), r.text(i, 1), filter.include_corrupt);
            if (t && (!t->corrupt.empty() || matches(*t, filter))) {
                fn(*t);
            }
        }
    };
    PostgresDb& d = db();
    if (filter.limit != 0 && filter.limit <= k_fetch_rows) {
        hand_over(d.exec(sql, args)); // one round trip
        return;
    }
    // A cursor (read only, in its own transaction): the rows come k_fetch_rows at a time, so a
    // listing of the whole history is never held whole, here or in libpq.
    d.transaction([&] {
        d.exec("DECLARE mlrun_list NO SCROLL CURSOR FOR " + sql, args);
        for (;;) {
            PostgresResult r = d.exec("FETCH " + std::to_string(k_fetch_rows) + " FROM mlrun_list");
            hand_over(r);
            if (static_cast<std::size_t>(r.rows()) < k_fetch_rows) {
                break;
            }
        }
        d.exec("CLOSE mlrun_list");
    });
}

std::size_t PostgresStore::count(const TaskFilter& filter)
{
    std::lock_guard<std::recursive_mutex> lock(m_mutex);
    PostgresParams args;
    const bool others = !filter.project.empty() || filter.status || !filter.run_id.empty() || !filter.kind.empty();
    std::string sql;
    if (!others && filter.tag.empty()) {
        sql = "SELECT n FROM task_count"; // kept by the trigger
    } else if (!others) {
        sql = "SELECT count(*) FROM tags WHERE tag = $1"; // the tag's index alone (a tag row has its task)
        args.text(column(filter.tag));
    } else {
        sql = "SELECT count(*) FROM tasks" + filter_where(filter, args);
    }
    return static_cast<std::size_t>(db().exec(sql, args).integer(0, 0));
}

std::string PostgresStore::resolve(const std::string& id_or_prefix)
{
    if (id_or_prefix.empty()) {
        throw UsageError("empty task id");
    }
    check_id(id_or_prefix);
    std::lock_guard<std::recursive_mutex> lock(m_mutex);
    PostgresDb& d = db();
    // Ids are names (no byte above '~'), so every id with the prefix sorts below prefix+DEL.
    const PostgresParams range = PostgresParams().text(id_or_prefix).text(id_or_prefix + "\x7f");
    PostgresResult r = d.exec("SELECT id FROM tasks WHERE id >= $1 AND id < $2 ORDER BY id LIMIT 2", range);
    std::vector<std::string> hits;
    for (int i = 0; i < r.rows(); ++i) {
        hits.push_back(r.text(i, 0));
    }
    if (std::find(hits.begin(), hits.end(), id_or_prefix) != hits.end()) {
        return id_or_prefix;
    }
    if (hits.size() == 1) {
        return hits.front();
    }
    if (hits.empty()) {
        std::vector<std::string> all;
        PostgresResult every = d.exec("SELECT id FROM tasks");
        for (int i = 0; i < every.rows(); ++i) {
            all.push_back(every.text(i, 0));
        }
        std::string near = nearest(id_or_prefix, all);
        throw UsageError("unknown task \"" + id_or_prefix + "\" in " + location()
                         + (near.empty() ? "" : " (did you mean " + near + "?)"));
    }
    std::int64_t n = d.exec("SELECT count(*) FROM tasks WHERE id >= $1 AND id < $2", range).integer(0, 0);
    throw UsageError("task id prefix \"" + id_or_prefix + "\" is ambiguous (" + std::to_string(n) + " tasks match)");
}

void PostgresStore::append_scalars(const std::string& id, const std::vector<Scalar>& batch)
{
    check_id(id);
    if (batch.empty()) {
        return;
    }
    std::lock_guard<std::recursive_mutex> lock(m_mutex);
    PostgresDb& d = db();
    d.transaction([&] { defer_scalars(d, id, batch); });
}

void PostgresStore::defer_scalars(PostgresDb& d, const std::string& id, const std::vector<Scalar>& batch)
{
    for (std::size_t start = 0; start < batch.size(); start += k_scalar_rows) {
        const std::size_t end = std::min(batch.size(), start + k_scalar_rows);
        std::string sql = "INSERT INTO scalars(task_id, title, series, iteration, value, timestamp_ms) VALUES ";
        PostgresParams p;
        for (std::size_t i = start; i < end; ++i) {
            const Scalar& s = batch[i];
            const std::size_t n = p.size();
            sql += (i == start ? "(" : ",(");
            for (std::size_t k = 1; k <= 6; ++k) {
                sql += "$" + std::to_string(n + k) + (k < 6 ? "," : ")");
            }
            p.text(id)
                .text(column(s.title))
                .text(column(s.series))
                .integer(s.iteration)
                .real(s.value)
                .integer(s.timestamp_ms);
        }
        d.defer(sql, p); // sent with the COMMIT: a batch is one round trip
    }
}

void PostgresStore::import_task(const Task& task, const std::vector<Scalar>& scalars)
{
    check_id(task.id);
    std::lock_guard<std::recursive_mutex> lock(m_mutex);
    PostgresDb& d = db();
    d.transaction([&] {
        const bool exists =
            d.exec("SELECT 1 FROM tasks WHERE id = $1 FOR UPDATE", PostgresParams().text(task.id)).rows() > 0;
        write_row(d, task, !exists);
        write_tags(d, task, exists);
        d.defer("DELETE FROM scalars WHERE task_id = $1", PostgresParams().text(task.id));
        defer_scalars(d, task.id, scalars);
    });
    fs::create_directories(task_dir(task.id));
}

std::vector<Scalar> PostgresStore::read_scalars(const std::string& id)
{
    check_id(id);
    std::lock_guard<std::recursive_mutex> lock(m_mutex);
    PostgresResult r = db().exec(
        "SELECT title, series, iteration, value, timestamp_ms FROM scalars WHERE task_id = $1 ORDER BY seq",
        PostgresParams().text(id));
    std::vector<Scalar> out;
    out.reserve(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) {
        Scalar s;
        s.title = r.text(i, 0);
        s.series = r.text(i, 1);
        s.iteration = r.integer(i, 2);
        s.value = r.real(i, 3);
        s.timestamp_ms = r.integer(i, 4);
        out.push_back(std::move(s));
    }
    return out;
}

void PostgresStore::clear_outputs(const std::string& id)
{
    m_files->clear_outputs(id);
    std::lock_guard<std::recursive_mutex> lock(m_mutex);
    db().exec("DELETE FROM scalars WHERE task_id = $1", PostgresParams().text(id));
}

void PostgresStore::put_record(const std::string& kind, const std::string& id, const Json& record)
{
    check_name(kind, "record kind");
    check_name(id, "record id");
    std::lock_guard<std::recursive_mutex> lock(m_mutex);
    db().exec("INSERT INTO records(kind, id, json) VALUES ($1, $2, $3) "
              "ON CONFLICT (kind, id) DO UPDATE SET json = EXCLUDED.json",
              PostgresParams().text(kind).text(id).text(dump_json(record)));
}

std::optional<Json> PostgresStore::get_record(const std::string& kind, const std::string& id)
{
    check_name(kind, "record kind");
    check_name(id, "record id");
    std::lock_guard<std::recursive_mutex> lock(m_mutex);
    PostgresResult r = db().exec("SELECT json FROM records WHERE kind = $1 AND id = $2",
                                 PostgresParams().text(kind).text(id));
    if (r.rows() == 0) {
        return std::nullopt;
    }
    return parse_record(r.text(0, 0), kind + " record " + id);
}

std::vector<std::string> PostgresStore::list_records(const std::string& kind)
{
    check_name(kind, "record kind");
    std::lock_guard<std::recursive_mutex> lock(m_mutex);
    PostgresResult r = db().exec("SELECT id FROM records WHERE kind = $1 ORDER BY id", PostgresParams().text(kind));
    std::vector<std::string> ids;
    ids.reserve(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) {
        ids.push_back(r.text(i, 0));
    }
    return ids;
}

Json PostgresStore::update_record(const std::string& kind, const std::string& id,
                                  const std::function<void(Json&)>& change)
{
    check_name(kind, "record kind");
    check_name(id, "record id");
    std::lock_guard<std::recursive_mutex> lock(m_mutex);
    PostgresDb& d = db();
    Json record;
    const PostgresParams key = PostgresParams().text(kind).text(id);
    d.transaction([&] {
        // A row to lock even when the record is new (a null one, gone again if `change` throws):
        // two first writers queue up on it instead of both starting from null.
        d.defer("INSERT INTO records(kind, id, json) VALUES ($1, $2, 'null') ON CONFLICT DO NOTHING", key);
        PostgresResult r = d.exec("SELECT json FROM records WHERE kind = $1 AND id = $2 FOR UPDATE", key);
        record = parse_record(r.text(0, 0), kind + " record " + id);
        change(record);
        d.defer("UPDATE records SET json = $3 WHERE kind = $1 AND id = $2",
                PostgresParams().text(kind).text(id).text(dump_json(record)));
    });
    return record;
}

std::string PostgresStore::quarantine_task(const std::string& id)
{
    check_id(id);
    std::lock_guard<std::recursive_mutex> lock(m_mutex);
    PostgresDb& d = db();
    const fs::path dir = m_root / "quarantine" / "tasks" / (id + "." + std::to_string(now_ms()));
    fs::create_directories(dir);
    d.transaction([&] {
        PostgresResult r = d.exec("SELECT record FROM tasks WHERE id = $1 FOR UPDATE", PostgresParams().text(id));
        if (r.rows() > 0) {
            write_file_atomic(dir / "task.json", r.text(0, 0)); // the bytes as found
        }
        d.defer("DELETE FROM tags WHERE task_id = $1", PostgresParams().text(id));
        d.defer("DELETE FROM tasks WHERE id = $1", PostgresParams().text(id));
    });
    std::error_code ec;
    if (fs::exists(task_dir(id), ec)) {
        fs::rename(task_dir(id), dir / "files");
    }
    return dir.string();
}

std::string PostgresStore::quarantine_record(const std::string& kind, const std::string& id)
{
    check_name(kind, "record kind");
    check_name(id, "record id");
    std::lock_guard<std::recursive_mutex> lock(m_mutex);
    PostgresDb& d = db();
    const fs::path file = m_root / "quarantine" / "records" / kind / (id + "." + std::to_string(now_ms()) + ".json");
    fs::create_directories(file.parent_path());
    const PostgresParams key = PostgresParams().text(kind).text(id);
    d.transaction([&] {
        PostgresResult r = d.exec("SELECT json FROM records WHERE kind = $1 AND id = $2 FOR UPDATE", key);
        if (r.rows() > 0) {
            write_file_atomic(file, r.text(0, 0));
        }
        d.defer("DELETE FROM records WHERE kind = $1 AND id = $2", key);
    });
    return file.string();
}

} // namespace mlrun
