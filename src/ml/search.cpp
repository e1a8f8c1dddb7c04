#include "ml/search.hpp"

#include "core/error.hpp"
#include "core/params.hpp"
#include "ml/metrics.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <exception>
#include <mutex>
#include <random>
#include <thread>

namespace mlrun::ml {
namespace {

std::string join(const std::vector<std::string>& items)
{
    std::string out;
    for (const std::string& s : items) {
        out += (out.empty() ? "" : ", ") + s;
    }
    return out;
}

bool is_reserved(const std::string& key)
{
    return key == "trials" || key == "strategy" || key == "seed" || key == "parallel";
}

void collect_dims(const nlohmann::json& node, const std::string& prefix, std::vector<SearchDim>& dims)
{
    for (const auto& [name, value] : node.items()) {
        if (prefix.empty() && is_reserved(name)) {
            continue;
        }
        const std::string key = prefix.empty() ? name : prefix + "." + name;
        const std::string where = "search." + key;
        if (value.is_array()) {
            if (value.empty()) {
                throw UsageError(where + ": empty list of values");
            }
            SearchDim dim;
            dim.key = key;
            dim.values.assign(value.begin(), value.end());
            dims.push_back(std::move(dim));
        } else if (value.is_object() && (value.contains("min") || value.contains("max"))) {
            for (const auto& [k, v] : value.items()) {
                if (k != "min" && k != "max" && k != "log" && k != "int") {
                    throw UsageError(where + ": unknown range key \"" + k + "\" (known: min, max, log, int)");
                }
            }
            const auto number = [&](const char* k) {
                if (!value.contains(k) || !value[k].is_number()) {
                    throw UsageError(where + ": a range needs numeric min and max");
                }
                return value[k].get<double>();
            };
            const auto flag = [&](const char* k) {
                if (!value.contains(k)) {
                    return false;
                }
                if (!value[k].is_boolean()) {
                    throw UsageError(where + "." + k + ": expected true or false");
                }
                return value[k].get<bool>();
            };
            SearchDim dim;
            dim.key = key;
            dim.min = number("min");
            dim.max = number("max");
            dim.log = flag("log");
            dim.integer = flag("int");
            if (!(dim.min <= dim.max) || !std::isfinite(dim.min) || !std::isfinite(dim.max)) {
                throw UsageError(where + ": min must be <= max");
            }
            if (dim.log && dim.min <= 0) {
                throw UsageError(where + ": a log range needs min > 0");
            }
            dims.push_back(std::move(dim));
        } else if (value.is_object()) {
            collect_dims(value, key, dims);
        } else {
            throw UsageError(where + ": expected a list of values or a range {min, max, log, int}");
        }
    }
}

const nlohmann::json* setting(const nlohmann::json& params, const nlohmann::json* search, const char* key)
{
    if (search && search->is_object() && search->contains(key)) {
        return &(*search)[key];
    }
    return get_path(params, key);
}

// Uniform double in [0, 1) from 53 random bits: the same on every standard library.
double unit(std::mt19937_64& rng)
{
    return static_cast<double>(rng() >> 11) * (1.0 / 9007199254740992.0);
}

nlohmann::json sample(const SearchDim& dim, std::mt19937_64& rng)
{
    if (!dim.is_range()) {
        return dim.values[rng() % dim.values.size()];
    }
    const double u = unit(rng);
    double v = dim.log ? std::exp(std::log(dim.min) + u * (std::log(dim.max) - std::log(dim.min)))
                       : dim.min + u * (dim.max - dim.min);
    if (dim.integer) {
        const double lo = std::ceil(dim.min);
        const double hi = std::floor(dim.max);
        return static_cast<std::int64_t>(std::clamp(std::round(v), lo, hi));
    }
    return v;
}

std::vector<nlohmann::json> grid_values(const SearchDim& dim)
{
    if (!dim.is_range()) {
        return dim.values;
    }
    if (!dim.integer || dim.log) {
        throw UsageError("search." + dim.key + ": grid search needs a list of values (or an int range without log)");
    }
    std::vector<nlohmann::json> values;
    for (double v = std::ceil(dim.min); v <= dim.max; v += 1) {
        values.emplace_back(static_cast<std::int64_t>(v));
        if (values.size() > 10000) {
            throw UsageError("search." + dim.key + ": int range too large for a grid (over 10000 values)");
        }
    }
    if (values.empty()) {
        throw UsageError("search." + dim.key + ": int range holds no integer");
    }
    return values;
}

} // namespace

const std::vector<std::string>& metric_names()
{
    static const std::vector<std::string> names = {"accuracy", "precision", "recall",  "f1",
                                                   "roc_auc",  "pr_auc",    "log_loss"};
    return names;
}

void check_metric_name(const std::string& metric, const std::string& where)
{
    const auto& names = metric_names();
    if (std::find(names.begin(), names.end(), metric) == names.end()) {
        throw UsageError(where + ": unknown metric \"" + metric + "\" (known: " + join(names) + ")");
    }
}

double metric_value(const std::string& metric, const std::vector<int>& y, const Matrix& proba)
{
    const int n_classes = static_cast<int>(proba.cols);
    if (metric == "roc_auc") {
        return roc_auc(y, proba);
    }
    if (metric == "pr_auc") {
        return pr_auc(y, proba);
    }
    if (metric == "log_loss") {
        return log_loss(y, proba);
    }
    const std::vector<int> pred = argmax_rows(proba);
    if (metric == "accuracy") {
        return accuracy(y, pred);
    }
    if (metric == "precision") {
        return precision(y, pred, n_classes);
    }
    if (metric == "recall") {
        return recall(y, pred, n_classes);
    }
    if (metric == "f1") {
        return f1(y, pred, n_classes);
    }
    check_metric_name(metric, "metric");
    return std::nan("");
}

SearchSpec parse_search(const nlohmann::json& params, std::uint64_t default_seed)
{
    SearchSpec spec;
    spec.seed = default_seed;
    const nlohmann::json* search = get_path(params, "search");
    if (search && !search->is_null() && !search->is_object()) {
        throw UsageError("search: expected a mapping of params to lists or ranges, e.g. {model.lr: [0.001, 0.01]}");
    }
    if (search && search->is_object()) {
        collect_dims(*search, "", spec.dims);
    }
    if (const nlohmann::json* t = setting(params, search, "trials"); t && !t->is_null()) {
        if (!t->is_number_integer() || t->get<std::int64_t>() < 1 || t->get<std::int64_t>() > 100000) {
            throw UsageError("trials: expected a whole number of trials >= 1");
        }
        spec.trials = t->get<int>();
    }
    if (const nlohmann::json* s = setting(params, search, "strategy"); s && !s->is_null()) {
        if (!s->is_string() || (*s != "random" && *s != "grid")) {
            throw UsageError("strategy: expected random or grid, got " + s->dump());
        }
        spec.strategy = s->get<std::string>();
    }
    if (const nlohmann::json* s = setting(params, search, "seed"); s && !s->is_null()) {
        if (!s->is_number_integer()) {
            throw UsageError("seed: expected a whole number, got " + s->dump());
        }
        spec.seed = s->get<std::uint64_t>();
    }
    if (search && search->is_object() && search->contains("parallel")) {
        const nlohmann::json& p = (*search)["parallel"];
        if (!p.is_number_integer() || p.get<int>() < 1 || p.get<int>() > 64) {
            throw UsageError("search.parallel: expected trials at a time between 1 and 64");
        }
        spec.parallel = p.get<int>();
    }
    return spec;
}

std::vector<nlohmann::json> plan_trials(const SearchSpec& spec)
{
    std::vector<nlohmann::json> plan;
    if (spec.dims.empty()) {
        return plan;
    }
    if (spec.strategy == "grid") {
        std::vector<std::vector<nlohmann::json>> axes;
        size_t total = 1;
        for (const SearchDim& dim : spec.dims) {
            axes.push_back(grid_values(dim));
            total *= axes.back().size();
            if (total > 1000000) {
                throw UsageError("search: grid of more than 1000000 combinations");
            }
        }
        const size_t n = spec.trials > 0 ? std::min(total, static_cast<size_t>(spec.trials)) : total;
        // First key varies slowest, like itertools.product and sklearn's ParameterGrid.
        for (size_t i = 0; i < n; ++i) {
            nlohmann::json a = nlohmann::json::object();
            size_t rest = i;
            for (size_t d = spec.dims.size(); d-- > 0;) {
                a[spec.dims[d].key] = axes[d][rest % axes[d].size()];
                rest /= axes[d].size();
            }
            plan.push_back(std::move(a));
        }
        return plan;
    }
    std::mt19937_64 rng(spec.seed);
    const int n = spec.trials > 0 ? spec.trials : 10;
    for (int i = 0; i < n; ++i) {
        nlohmann::json a = nlohmann::json::object();
        for (const SearchDim& dim : spec.dims) {
            a[dim.key] = sample(dim, rng);
        }
        plan.push_back(std::move(a));
    }
    return plan;
}

nlohmann::json TrialResult::to_json() const
{
    nlohmann::json j = {{"trial", index},
                        {"params", assignment},
                        {"valid_metric", std::isnan(valid_metric) ? nlohmann::json() : nlohmann::json(valid_metric)},
                        {"train_time_s", train_time_s}};
    if (!error.empty()) {
        j["error"] = error;
    }
    return j;
}

SearchResult run_search(const SearchSpec& spec, const nlohmann::json& params, const LabeledSet& train,
                        const LabeledSet& valid, const SearchOptions& options)
{
    check_metric_name(options.metric, "primary_metric");
    if (valid.x.rows == 0 || valid.y.empty()) {
        throw UsageError("search needs a validation split with labels to pick the best trial (valid split is empty)");
    }
    const std::vector<nlohmann::json> plan = plan_trials(spec);
    SearchResult result;
    result.trials.resize(plan.size());
    if (plan.empty()) {
        return result;
    }
    const bool lower = lower_is_better(options.metric);
    std::mutex mutex;
    std::atomic<size_t> next{0};
    std::atomic<bool> stop{false};
    std::exception_ptr abort_error; // Aborted, or a failure outside a trial: stops everything
    std::vector<std::exception_ptr> errors(plan.size());

    const auto run_one = [&](size_t i) {
        TrialResult trial;
        trial.index = static_cast<int>(i);
        trial.assignment = plan[i];
        const auto start = std::chrono::steady_clock::now();
        std::unique_ptr<Model> model;
        try {
            nlohmann::json p = params;
            for (const auto& [key, value] : plan[i].items()) {
                set_path(p, key, value);
            }
            const nlohmann::json* model_params = get_path(p, "model");
            const nlohmann::json* kind = get_path(p, "model.kind");
            if (!kind || !kind->is_string()) {
                throw UsageError("model.kind is required (one of: " + join(model_kinds()) + ")");
            }
            model = make_model(kind->get<std::string>(), *model_params, static_cast<int>(train.x.cols),
                               train.n_classes(), train.shape);
            FitOptions fit;
            const nlohmann::json* seed = get_path(p, "seed");
            fit.seed = seed && seed->is_number_integer() ? seed->get<std::uint64_t>() : spec.seed;
            fit.threads = options.threads;
            fit.metric = options.metric;
            fit.cancel = options.cancel;
            model->fit(train, valid, fit);
            trial.valid_metric = metric_value(options.metric, valid.y, model->predict_proba(valid.x));
            trial.model_params = model->params();
        } catch (const Aborted&) {
            std::lock_guard<std::mutex> lock(mutex);
            if (!abort_error) {
                abort_error = std::current_exception();
            }
            stop = true;
            return;
        } catch (const std::exception& e) {
            trial.error = e.what();
            errors[i] = std::current_exception();
            model.reset();
        }
        trial.train_time_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        std::lock_guard<std::mutex> lock(mutex);
        if (trial.ok()) {
            const bool first = result.best < 0;
            const double best = first ? std::nan("") : result.trials[static_cast<size_t>(result.best)].valid_metric;
            const bool wins = first || is_better(trial.valid_metric, best, lower)
                              || (trial.valid_metric == best && trial.index < result.best)
                              || (std::isnan(best) && std::isnan(trial.valid_metric) && trial.index < result.best);
            if (wins) {
                result.best = trial.index;
                result.best_model = std::move(model);
            }
        }
        result.trials[i] = trial;
        if (options.on_trial) {
            options.on_trial(trial);
        }
    };
    const auto worker = [&] {
        for (size_t i = next++; i < plan.size() && !stop; i = next++) {
            if (options.cancel && options.cancel->load(std::memory_order_relaxed)) {
                std::lock_guard<std::mutex> lock(mutex);
                if (!abort_error) {
                    abort_error = std::make_exception_ptr(Aborted("search cancelled"));
                }
                stop = true;
                return;
            }
            // A worker thread: what escapes a trial (its report to a full disk, say) stops
            // the search and is rethrown below, in the caller's thread.
            try {
                run_one(i);
            } catch (...) {
                std::lock_guard<std::mutex> lock(mutex);
                if (!abort_error) {
                    abort_error = std::current_exception();
                }
                stop = true;
                return;
            }
        }
    };
    const int parallel = std::max(
        1, std::min<int>(spec.parallel > 0 ? spec.parallel : options.parallel, static_cast<int>(plan.size())));
    if (parallel == 1) {
        worker();
    } else {
        std::vector<std::thread> threads;
        for (int t = 0; t < parallel; ++t) {
            threads.emplace_back(worker);
        }
        for (std::thread& t : threads) {
            t.join();
        }
    }
    if (abort_error) {
        std::rethrow_exception(abort_error);
    }
    if (result.best < 0) {
        for (const std::exception_ptr& e : errors) {
            if (e) {
                std::rethrow_exception(e);
            }
        }
    }
    return result;
}

} // namespace mlrun::ml
