#include "store/sqlite_store.hpp"

#include "core/error.hpp"
#include "core/util.hpp"
#include "store/local_store.hpp"
#include "store/sqlite_db.hpp"

#include <algorithm>

namespace mlrun {

namespace {

// Migration N (1-based) brings the schema from version N-1 to N; never edit one that has
// shipped, append another.
const std::vector<const char*>& migrations()
{
    static const std::vector<const char*> k{
        R"sql(
        CREATE TABLE tasks (
            id TEXT PRIMARY KEY NOT NULL,
            name TEXT NOT NULL,
            project TEXT NOT NULL,
            type TEXT NOT NULL,
            kind TEXT NOT NULL,
            status TEXT NOT NULL,
            run_id TEXT NOT NULL,
            step TEXT NOT NULL,
            parent TEXT NOT NULL,
            queue TEXT NOT NULL,
            cache_key TEXT NOT NULL,
            created_ms INTEGER NOT NULL,
            updated_ms INTEGER NOT NULL,
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
            task_id TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
            tag TEXT NOT NULL,
            PRIMARY KEY (task_id, tag)
        );
        CREATE INDEX tags_tag ON tags(tag, task_id);
        CREATE TABLE scalars (
            seq INTEGER PRIMARY KEY,
            task_id TEXT NOT NULL,
            title TEXT NOT NULL,
            series TEXT NOT NULL,
            iteration INTEGER NOT NULL,
            value REAL,
            timestamp_ms INTEGER NOT NULL
        );
        CREATE INDEX scalars_task ON scalars(task_id, seq);
        CREATE TABLE records (
            kind TEXT NOT NULL,
            id TEXT NOT NULL,
            json TEXT NOT NULL,
            PRIMARY KEY (kind, id)
        );
        )sql",
        // 2: the number of tasks kept by triggers, so an unfiltered count (`task list`'s "N more")
        // reads one row instead of an index of the whole history.
        R"sql(
        CREATE TABLE task_count (n INTEGER NOT NULL);
        INSERT INTO task_count(n) SELECT count(*) FROM tasks;
        CREATE TRIGGER task_count_insert AFTER INSERT ON tasks BEGIN UPDATE task_count SET n = n + 1; END;
        CREATE TRIGGER task_count_delete AFTER DELETE ON tasks BEGIN UPDATE task_count SET n = n - 1; END;
        )sql",
    };
    return k;
}

void check_id(const std::string& id)
{
    check_name(id, "task id");
}

// A row's two JSON texts from one encoding of the task: the record, and the record as a
// listing shows it (no params, values or artifacts).
struct RowJson {
    std::string record;
    std::string summary;
};
RowJson row_json(const Task& task)
{
    Json j = task.to_json();
    RowJson out;
    out.record = dump_json(j);
    j["params"] = Json::object();
    j["values"] = Json::object();
    j["artifacts"] = Json::array();
    out.summary = dump_json(j);
    return out;
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

} // namespace

SqliteStore::SqliteStore(fs::path root) : m_root(std::move(root))
{
    m_files = std::make_unique<LocalStore>(m_root);
}

SqliteStore::~SqliteStore()
{
    try {
        std::lock_guard<std::recursive_mutex> lock(m_mutex);
        if (!m_soon.empty() && m_db) {
            write_transaction(*m_db, [] {});
        }
    } catch (const std::exception&) {
        // the records waiting for a write are lost, as in a crash; nothing is torn
    }
}

void SqliteStore::write_soon(SqliteDb& db)
{
    for (const auto& [key, json] : m_soon) {
        db.query("INSERT OR REPLACE INTO records(kind, id, json) VALUES (?, ?, ?)")
            .bind(1, key.first)
            .bind(2, key.second)
            .bind(3, json)
            .run();
    }
}

void SqliteStore::write_transaction(SqliteDb& db, const std::function<void()>& fn)
{
    db.transaction([&] {
        fn();
        write_soon(db);
    });
    m_soon.clear();
}

std::string SqliteStore::location() const
{
    return "sqlite:" + m_root.string();
}

std::string SqliteStore::uri() const
{
    return "sqlite:" + m_root.string();
}

SqliteDb* SqliteStore::db(bool create)
{
    if (m_db) {
        return m_db.get();
    }
    std::error_code ec;
    if (!create && !fs::exists(db_file(), ec)) {
        return nullptr;
    }
    fs::create_directories(m_root / "tasks");
    auto opened = std::make_unique<SqliteDb>(db_file());
    migrate(*opened);
    m_db = std::move(opened);
    return m_db.get();
}

void SqliteStore::migrate(SqliteDb& db)
{
    auto read_version = [&] {
        SqliteQuery q = db.query("SELECT max(version) FROM schema_version");
        return q.step() ? static_cast<int>(q.integer(0)) : 0;
    };
    int version = 0;
    try {
        version = read_version(); // an existing store: one read, no DDL (every task process opens it)
    } catch (const SqliteError&) {
        db.exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
        version = read_version();
    }
    if (version > k_sqlite_schema_version) {
        throw UsageError("store " + location() + " has schema version " + std::to_string(version)
                         + ", newer than this mlrun understands (" + std::to_string(k_sqlite_schema_version)
                         + "); upgrade mlrun");
    }
    if (version == k_sqlite_schema_version) {
        return;
    }
    // Under the write lock: two processes opening a new store migrate it once.
    db.transaction([&] {
        for (int v = read_version(); v < k_sqlite_schema_version; ++v) {
            db.exec(migrations()[static_cast<size_t>(v)]);
            db.query("INSERT INTO schema_version(version) VALUES (?)").bind(1, std::int64_t{v + 1}).run();
        }
    });
}

void SqliteStore::ensure_created()
{
    std::lock_guard<std::recursive_mutex> lock(m_mutex);
    db(true);
}

std::unique_ptr<RunLock> SqliteStore::try_lock_run(const std::string& run_id)
{
    check_name(run_id, "run id");
    check_writable_store(m_root);
    fs::create_directories(m_root / "records" / "runs");
    return try_lock_file(m_root / "records" / "runs" / ("." + run_id + ".lock"));
}

void SqliteStore::write_row(SqliteDb& db, const Task& task, bool insert)
{
    const char* sql = insert ? "INSERT INTO tasks(name, project, type, kind, status, run_id, step, parent, queue, "
                               "cache_key, created_ms, updated_ms, summary, record, id) "
                               "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
                             : "UPDATE tasks SET name=?, project=?, type=?, kind=?, status=?, run_id=?, step=?, "
                               "parent=?, queue=?, cache_key=?, created_ms=?, updated_ms=?, summary=?, record=? "
                               "WHERE id=?";
    const RowJson json = row_json(task);
    SqliteQuery q = db.query(sql);
    q.bind(1, task.name)
        .bind(2, task.project)
        .bind(3, task.type)
        .bind(4, task.kind)
        .bind(5, to_string(task.status))
        .bind(6, task.run_id)
        .bind(7, task.step)
        .bind(8, task.parent)
        .bind(9, task.queue)
        .bind(10, task.cache_key)
        .bind(11, std::int64_t{task.created_ms})
        .bind(12, std::int64_t{task.updated_ms})
        .bind(13, json.summary)
        .bind(14, json.record)
        .bind(15, task.id);
    q.run();
    if (!insert) {
        db.query("DELETE FROM tags WHERE task_id = ?").bind(1, task.id).run();
    }
    for (const std::string& tag : task.tags) {
        db.query("INSERT OR IGNORE INTO tags(task_id, tag) VALUES (?, ?)").bind(1, task.id).bind(2, tag).run();
    }
}

void SqliteStore::update_row(SqliteDb& db, const Task& before, const Task& task)
{
    // Only the columns that changed: SQLite rewrites an index only for the columns in the SET
    // list, so a status change touches the status index and no other (a step's end wrote
    // every index of the row before, ~10 pages of WAL).
    std::string sql = "UPDATE tasks SET updated_ms=?, summary=?, record=?";
    std::vector<const std::string*> text;
    auto column = [&](const char* name, const std::string& old_value, const std::string& new_value) {
        if (old_value != new_value) {
            sql += std::string(", ") + name + "=?";
            text.push_back(&new_value);
        }
    };
    const std::string old_status(to_string(before.status));
    const std::string new_status(to_string(task.status));
    column("name", before.name, task.name);
    column("project", before.project, task.project);
    column("type", before.type, task.type);
    column("kind", before.kind, task.kind);
    column("status", old_status, new_status);
    column("run_id", before.run_id, task.run_id);
    column("step", before.step, task.step);
    column("parent", before.parent, task.parent);
    column("queue", before.queue, task.queue);
    column("cache_key", before.cache_key, task.cache_key);
    const bool created_changed = before.created_ms != task.created_ms;
    if (created_changed) {
        sql += ", created_ms=?";
    }
    sql += " WHERE id=?";
    SqliteQuery q = db.query(sql);
    int i = 1;
    const RowJson json = row_json(task);
    q.bind(i++, std::int64_t{task.updated_ms}).bind(i++, json.summary).bind(i++, json.record);
    for (const std::string* v : text) {
        q.bind(i++, *v);
    }
    if (created_changed) {
        q.bind(i++, std::int64_t{task.created_ms});
    }
    q.bind(i, task.id);
    q.run();
    if (before.tags != task.tags) {
        db.query("DELETE FROM tags WHERE task_id = ?").bind(1, task.id).run();
        for (const std::string& tag : task.tags) {
            db.query("INSERT OR IGNORE INTO tags(task_id, tag) VALUES (?, ?)").bind(1, task.id).bind(2, tag).run();
        }
    }
}

void SqliteStore::create(Task& task)
{
    std::lock_guard<std::recursive_mutex> lock(m_mutex);
    SqliteDb& d = *db(true);
    if (task.id.empty()) {
        task.id = new_id();
    }
    check_id(task.id);
    task.created_ms = task.created_ms ? task.created_ms : now_ms();
    task.updated_ms = task.created_ms;
    write_transaction(d, [&] {
        SqliteQuery q = d.query("SELECT 1 FROM tasks WHERE id = ?");
        if (q.bind(1, task.id).step()) {
            throw std::runtime_error("cannot create task " + task.id + ": it exists already");
        }
        write_row(d, task, true);
    });
    // No folder yet: the first log line or artifact makes it (an in-process step that writes
    // no file costs no inode).
}

std::optional<Task> SqliteStore::find(const std::string& id)
{
    check_id(id);
    std::lock_guard<std::recursive_mutex> lock(m_mutex);
    SqliteDb* d = db(false);
    if (!d) {
        return std::nullopt;
    }
    SqliteQuery q = d->query("SELECT record FROM tasks WHERE id = ?");
    if (!q.bind(1, id).step()) {
        return std::nullopt;
    }
    return parse_task(q.text(0), id);
}

Task SqliteStore::update(const std::string& id, const std::function<void(Task&)>& change)
{
    check_id(id);
    std::lock_guard<std::recursive_mutex> lock(m_mutex);
    SqliteDb* d = db(false);
    if (!d) {
        throw UsageError("unknown task " + id);
    }
    Task task;
    write_transaction(*d, [&] {
        {
            SqliteQuery q = d->query("SELECT record FROM tasks WHERE id = ?");
            if (!q.bind(1, id).step()) {
                throw UsageError("unknown task " + id);
            }
            task = parse_task(q.text(0), id);
        }
        const Task before = task;
        change(task);
        task.id = id; // the row's key; a change never moves a record
        task.updated_ms = now_ms();
        update_row(*d, before, task);
    });
    return task;
}

namespace {

// Arms of a listing of a project and its subprojects at most: more distinct subprojects than
// this are listed by one sorted query instead.
constexpr std::size_t k_max_project_arms = 32;

// The FROM and WHERE clauses of `filter`, its arguments appended to `args`, and the column the
// answer is ordered by (`id_column`). The SQL text (one kept statement per shape) depends only
// on which filters are set. Every filter is an indexed condition, chosen so that SQLite walks
// one index in id order and stops at the limit:
//   a run is the narrowest filter: with one, the others are checked on its rows ("+col" keeps
//   SQLite off their indexes);
//   a tag walks tags(tag, task_id) in id order, joined to its tasks (CROSS JOIN: that order);
//   `exact_project`: the project is matched exactly (an arm of project_family's union).
std::string filter_from_where(const TaskFilter& filter, std::vector<std::string>& args, std::string& id_column,
                              bool exact_project = false)
{
    const bool by_run = !filter.run_id.empty();
    const std::string plus = by_run ? "+" : "";
    std::string from = " FROM tasks";
    std::string sql = " WHERE 1";
    id_column = "tasks.id";
    if (!filter.project.empty() && exact_project) {
        sql += " AND " + plus + "tasks.project = ?";
        args.push_back(filter.project);
    } else if (!filter.project.empty()) {
        // "a" and every "a/…": '0' is the character after '/'.
        sql += " AND (" + plus + "tasks.project = ? OR (" + plus + "tasks.project >= ? AND " + plus
               + "tasks.project < ?))";
        args.push_back(filter.project);
        args.push_back(filter.project + "/");
        args.push_back(filter.project + "0");
    }
    if (filter.status) {
        sql += " AND " + plus + "tasks.status = ?";
        args.emplace_back(to_string(*filter.status));
    }
    if (!filter.tag.empty() && by_run) {
        sql += " AND +tasks.id IN (SELECT task_id FROM tags WHERE tag = ?)";
        args.push_back(filter.tag);
    } else if (!filter.tag.empty()) {
        from = " FROM tags CROSS JOIN tasks ON tasks.id = tags.task_id";
        sql += " AND tags.tag = ?";
        args.push_back(filter.tag);
        id_column = "tags.task_id";
    }
    if (by_run) {
        sql += " AND tasks.run_id = ?";
        args.push_back(filter.run_id);
    }
    if (!filter.kind.empty()) {
        sql += " AND " + plus + "tasks.kind = ?";
        args.emplace_back(filter.kind);
    }
    return from + sql;
}

// `project` and each of its subprojects that has tasks, found by walking the project index
// (one probe per distinct project); empty when there are more than k_max_project_arms.
std::vector<std::string> project_family(SqliteDb& db, const std::string& project)
{
    std::vector<std::string> out{project};
    const std::string end = project + "0"; // '0' is the character after '/'
    std::string at = project + "/";
    for (bool first = true;; first = false) {
        // The next project of the range: one probe of the index.
        SqliteQuery q = db.query(first ? "SELECT min(project) FROM tasks WHERE project >= ? AND project < ?"
                                       : "SELECT min(project) FROM tasks WHERE project > ? AND project < ?");
        q.bind(1, at).bind(2, end);
        if (!q.step() || q.is_null(0)) {
            return out;
        }
        at = q.text(0);
        out.push_back(at);
        if (out.size() > k_max_project_arms) {
            return {};
        }
    }
}

} // namespace

std::vector<Task> SqliteStore::list(const TaskFilter& filter)
{
    std::vector<Task> out;
    each(filter, [&](const Task& t) { out.push_back(t); });
    return out;
}

namespace {

// The query of each(): its text, arguments appended to `args`.
std::string listing_sql(SqliteDb& d, const TaskFilter& filter, std::vector<std::string>& args)
{
    const std::string columns = std::string("SELECT ") + (filter.light ? "tasks.summary" : "tasks.record")
                                + ", tasks.id";
    const std::string order = filter.newest_first ? " DESC" : "";
    const std::string limit = filter.limit != 0 ? " LIMIT " + std::to_string(filter.limit) : "";
    std::vector<std::string> family;
    if (!filter.project.empty() && filter.run_id.empty() && filter.limit != 0) {
        family = project_family(d, filter.project);
    }
    std::string id_column;
    if (family.empty()) {
        return columns + filter_from_where(filter, args, id_column) + " ORDER BY " + id_column + order + limit;
    }
    // One arm per project of the family, each an index walk in id order cut at the limit; the
    // union of those few rows is sorted, never the project's whole history.
    std::string sql;
    for (const std::string& project : family) {
        TaskFilter arm = filter;
        arm.project = project;
        const std::string arm_sql = filter_from_where(arm, args, id_column, true);
        sql += std::string(sql.empty() ? "" : " UNION ALL ") + "SELECT * FROM (" + columns + arm_sql + " ORDER BY "
               + id_column + order + limit + ")";
    }
    return sql + " ORDER BY 2" + order + limit;
}

// The query of count(): its text, arguments appended to `args`.
std::string count_sql(const TaskFilter& filter, std::vector<std::string>& args)
{
    const bool others = filter.status || !filter.tag.empty() || !filter.run_id.empty() || !filter.kind.empty();
    if (filter.project.empty() && !others) {
        return "SELECT n FROM task_count"; // kept by triggers
    }
    if (filter.project.empty() && !filter.status && filter.run_id.empty() && filter.kind.empty()) {
        args.push_back(filter.tag);
        return "SELECT count(*) FROM tags WHERE tag = ?"; // the tag's index alone (a tag row has its task)
    }
    if (!others) {
        // Two ranges of the project index, counted on the index alone.
        args.insert(args.end(), {filter.project, filter.project + "/", filter.project + "0"});
        return "SELECT (SELECT count(*) FROM tasks WHERE project = ?)"
               " + (SELECT count(*) FROM tasks WHERE project >= ? AND project < ?)";
    }
    std::string id_column;
    return "SELECT count(*)" + filter_from_where(filter, args, id_column);
}

void bind_all(SqliteQuery& q, const std::vector<std::string>& args)
{
    for (size_t i = 0; i < args.size(); ++i) {
        q.bind(static_cast<int>(i + 1), args[i]);
    }
}

} // namespace

void SqliteStore::each(const TaskFilter& filter, const std::function<void(const Task&)>& fn)
{
    std::lock_guard<std::recursive_mutex> lock(m_mutex);
    SqliteDb* d = db(false);
    if (!d) {
        return;
    }
    std::vector<std::string> args;
    SqliteQuery q = d->query(listing_sql(*d, filter, args));
    bind_all(q, args);
    while (q.step()) {
        Json j = Json::parse(q.text(0), nullptr, false);
        std::optional<Task> t;
        std::string why = "the record is not valid JSON";
        if (!j.is_discarded()) {
            try {
                t = Task::from_json(j);
            } catch (const std::exception& e) {
                why = std::string("the record is not a task record: ") + e.what();
            }
        }
        if (!t) {
            if (filter.include_corrupt) {
                Task c;
                c.id = q.text(1);
                c.corrupt = why;
                fn(c);
            }
            continue;
        }
        if (matches(*t, filter)) {
            fn(*t);
        }
    }
}

std::size_t SqliteStore::count(const TaskFilter& filter)
{
    std::lock_guard<std::recursive_mutex> lock(m_mutex);
    SqliteDb* d = db(false);
    if (!d) {
        return 0;
    }
    std::vector<std::string> args;
    SqliteQuery q = d->query(count_sql(filter, args));
    bind_all(q, args);
    return q.step() ? static_cast<std::size_t>(q.integer(0)) : 0;
}

std::vector<std::string> SqliteStore::query_plan(const TaskFilter& filter, bool count)
{
    std::lock_guard<std::recursive_mutex> lock(m_mutex);
    SqliteDb& d = *db(true);
    std::vector<std::string> args;
    const std::string sql = count ? count_sql(filter, args) : listing_sql(d, filter, args);
    SqliteQuery q = d.query("EXPLAIN QUERY PLAN " + sql);
    bind_all(q, args);
    std::vector<std::string> lines;
    while (q.step()) {
        lines.push_back(q.text(3)); // id, parent, notused, detail
    }
    return lines;
}

void SqliteStore::import_task(const Task& task, const std::vector<Scalar>& scalars)
{
    check_id(task.id);
    std::lock_guard<std::recursive_mutex> lock(m_mutex);
    SqliteDb& d = *db(true);
    d.transaction([&] {
        bool exists = false;
        {
            SqliteQuery q = d.query("SELECT 1 FROM tasks WHERE id = ?");
            exists = q.bind(1, task.id).step();
        }
        write_row(d, task, !exists);
        d.query("DELETE FROM scalars WHERE task_id = ?").bind(1, task.id).run();
        insert_scalars(d, task.id, scalars);
    });
    fs::create_directories(task_dir(task.id));
}

std::string SqliteStore::resolve(const std::string& id_or_prefix)
{
    if (id_or_prefix.empty()) {
        throw UsageError("empty task id");
    }
    check_id(id_or_prefix);
    std::lock_guard<std::recursive_mutex> lock(m_mutex);
    std::vector<std::string> hits;
    if (SqliteDb* d = db(false)) {
        // Ids are names (no byte above '~'), so every id with the prefix sorts below prefix+DEL.
        SqliteQuery q = d->query("SELECT id FROM tasks WHERE id >= ? AND id < ? ORDER BY id LIMIT 2");
        q.bind(1, id_or_prefix).bind(2, id_or_prefix + "\x7f");
        while (q.step()) {
            hits.push_back(q.text(0));
        }
    }
    if (std::find(hits.begin(), hits.end(), id_or_prefix) != hits.end() || hits.size() == 1) {
        return std::find(hits.begin(), hits.end(), id_or_prefix) != hits.end() ? id_or_prefix : hits.front();
    }
    if (hits.empty()) {
        std::vector<std::string> all;
        if (SqliteDb* d = db(false)) {
            SqliteQuery q = d->query("SELECT id FROM tasks");
            while (q.step()) {
                all.push_back(q.text(0));
            }
        }
        std::string near = nearest(id_or_prefix, all);
        throw UsageError("unknown task \"" + id_or_prefix + "\" in " + location()
                         + (near.empty() ? "" : " (did you mean " + near + "?)"));
    }
    SqliteQuery q = db(false)->query("SELECT count(*) FROM tasks WHERE id >= ? AND id < ?");
    q.bind(1, id_or_prefix).bind(2, id_or_prefix + "\x7f");
    std::int64_t n = q.step() ? q.integer(0) : 2;
    throw UsageError("task id prefix \"" + id_or_prefix + "\" is ambiguous (" + std::to_string(n) + " tasks match)");
}

void SqliteStore::append_scalars(const std::string& id, const std::vector<Scalar>& batch)
{
    check_id(id);
    if (batch.empty()) {
        return;
    }
    std::lock_guard<std::recursive_mutex> lock(m_mutex);
    SqliteDb& d = *db(true);
    write_transaction(d, [&] { insert_scalars(d, id, batch); });
}

void SqliteStore::insert_scalars(SqliteDb& db, const std::string& id, const std::vector<Scalar>& batch)
{
    for (const Scalar& s : batch) {
        db.query("INSERT INTO scalars(task_id, title, series, iteration, value, timestamp_ms) "
                 "VALUES (?,?,?,?,?,?)")
            .bind(1, id)
            .bind(2, s.title)
            .bind(3, s.series)
            .bind(4, std::int64_t{s.iteration})
            .bind(5, s.value)
            .bind(6, std::int64_t{s.timestamp_ms})
            .run();
    }
}

std::vector<Scalar> SqliteStore::read_scalars(const std::string& id)
{
    check_id(id);
    std::lock_guard<std::recursive_mutex> lock(m_mutex);
    std::vector<Scalar> out;
    SqliteDb* d = db(false);
    if (!d) {
        return out;
    }
    SqliteQuery q = d->query(
        "SELECT title, series, iteration, value, timestamp_ms FROM scalars WHERE task_id = ? ORDER BY seq");
    q.bind(1, id);
    while (q.step()) {
        Scalar s;
        s.title = q.text(0);
        s.series = q.text(1);
        s.iteration = q.integer(2);
        s.value = q.real(3);
        s.timestamp_ms = q.integer(4);
        out.push_back(std::move(s));
    }
    return out;
}

void SqliteStore::clear_outputs(const std::string& id)
{
    m_files->clear_outputs(id);
    std::lock_guard<std::recursive_mutex> lock(m_mutex);
    if (SqliteDb* d = db(false)) {
        d->transaction([&] { d->query("DELETE FROM scalars WHERE task_id = ?").bind(1, id).run(); });
    }
}

void SqliteStore::put_record(const std::string& kind, const std::string& id, const Json& record)
{
    check_name(kind, "record kind");
    check_name(id, "record id");
    std::lock_guard<std::recursive_mutex> lock(m_mutex);
    SqliteDb& d = *db(true);
    m_soon.erase({kind, id}); // this write supersedes one still waiting
    auto put = [&] {
        d.query("INSERT OR REPLACE INTO records(kind, id, json) VALUES (?, ?, ?)")
            .bind(1, kind)
            .bind(2, id)
            .bind(3, dump_json(record))
            .run();
    };
    if (m_soon.empty()) {
        put(); // one statement: its own transaction
    } else {
        write_transaction(d, put);
    }
}

void SqliteStore::put_record_soon(const std::string& kind, const std::string& id, const Json& record)
{
    check_name(kind, "record kind");
    check_name(id, "record id");
    std::string text = dump_json(record);
    std::lock_guard<std::recursive_mutex> lock(m_mutex);
    m_soon[{kind, id}] = std::move(text);
}

std::optional<Json> SqliteStore::get_record(const std::string& kind, const std::string& id)
{
    check_name(kind, "record kind");
    check_name(id, "record id");
    std::lock_guard<std::recursive_mutex> lock(m_mutex);
    if (auto soon = m_soon.find({kind, id}); soon != m_soon.end()) {
        return parse_record(soon->second, kind + " record " + id);
    }
    SqliteDb* d = db(false);
    if (!d) {
        return std::nullopt;
    }
    SqliteQuery q = d->query("SELECT json FROM records WHERE kind = ? AND id = ?");
    if (!q.bind(1, kind).bind(2, id).step()) {
        return std::nullopt;
    }
    return parse_record(q.text(0), kind + " record " + id);
}

std::vector<std::string> SqliteStore::list_records(const std::string& kind)
{
    check_name(kind, "record kind");
    std::lock_guard<std::recursive_mutex> lock(m_mutex);
    std::vector<std::string> ids;
    SqliteDb* d = db(false);
    if (!d) {
        return ids;
    }
    SqliteQuery q = d->query("SELECT id FROM records WHERE kind = ? ORDER BY id");
    q.bind(1, kind);
    while (q.step()) {
        ids.push_back(q.text(0));
    }
    bool added = false;
    for (const auto& [key, json] : m_soon) {
        if (key.first == kind && !std::binary_search(ids.begin(), ids.end(), key.second)) {
            ids.push_back(key.second);
            added = true;
        }
    }
    if (added) {
        std::sort(ids.begin(), ids.end());
    }
    return ids;
}

Json SqliteStore::update_record(const std::string& kind, const std::string& id,
                                const std::function<void(Json&)>& change)
{
    check_name(kind, "record kind");
    check_name(id, "record id");
    std::lock_guard<std::recursive_mutex> lock(m_mutex);
    SqliteDb& d = *db(true);
    Json record;
    if (auto soon = m_soon.find({kind, id}); soon != m_soon.end()) {
        put_record(kind, id, parse_record(soon->second, kind + " record " + id)); // then read it back below
    }
    write_transaction(d, [&] {
        {
            SqliteQuery q = d.query("SELECT json FROM records WHERE kind = ? AND id = ?");
            if (q.bind(1, kind).bind(2, id).step()) {
                record = parse_record(q.text(0), kind + " record " + id);
            }
        }
        change(record);
        d.query("INSERT OR REPLACE INTO records(kind, id, json) VALUES (?, ?, ?)")
            .bind(1, kind)
            .bind(2, id)
            .bind(3, dump_json(record))
            .run();
    });
    return record;
}

std::string SqliteStore::integrity_check()
{
    std::lock_guard<std::recursive_mutex> lock(m_mutex);
    SqliteDb* d = db(false);
    return d ? d->integrity_check() : "ok";
}

std::string SqliteStore::quarantine_task(const std::string& id)
{
    check_id(id);
    std::lock_guard<std::recursive_mutex> lock(m_mutex);
    SqliteDb& d = *db(true);
    const fs::path dir = m_root / "quarantine" / "tasks" / (id + "." + std::to_string(now_ms()));
    fs::create_directories(dir);
    d.transaction([&] {
        SqliteQuery q = d.query("SELECT record FROM tasks WHERE id = ?");
        if (q.bind(1, id).step()) {
            write_file_atomic(dir / "task.json", q.text(0)); // the bytes as found
        }
        d.query("DELETE FROM tags WHERE task_id = ?").bind(1, id).run();
        d.query("DELETE FROM tasks WHERE id = ?").bind(1, id).run();
    });
    std::error_code ec;
    if (fs::exists(task_dir(id), ec)) {
        fs::rename(task_dir(id), dir / "files");
    }
    return dir.string();
}

std::string SqliteStore::quarantine_record(const std::string& kind, const std::string& id)
{
    check_name(kind, "record kind");
    check_name(id, "record id");
    std::lock_guard<std::recursive_mutex> lock(m_mutex);
    SqliteDb& d = *db(true);
    const fs::path file = m_root / "quarantine" / "records" / kind / (id + "." + std::to_string(now_ms()) + ".json");
    fs::create_directories(file.parent_path());
    d.transaction([&] {
        SqliteQuery q = d.query("SELECT json FROM records WHERE kind = ? AND id = ?");
        if (q.bind(1, kind).bind(2, id).step()) {
            write_file_atomic(file, q.text(0));
        }
        d.query("DELETE FROM records WHERE kind = ? AND id = ?").bind(1, kind).bind(2, id).run();
    });
    return file.string();
}

std::vector<std::string> SqliteStore::integrity_problems()
{
    std::string result = integrity_check();
    return result == "ok" ? std::vector<std::string>{} : std::vector<std::string>{"store.db: " + result};
}

} // namespace mlrun
