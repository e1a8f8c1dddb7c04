// The task model: the status machine (DESIGN §3) and typed --set params.
#include "core/error.hpp"
#include "core/params.hpp"
#include "core/status.hpp"

#include <doctest/doctest.h>

#include <set>
#include <string>
#include <utility>

using namespace mlrun;

namespace {

// DESIGN §3, written out by hand: every pair not listed here must be refused.
const std::set<std::pair<Status, Status>>& legal_transitions()
{
    using S = Status;
    static const std::set<std::pair<S, S>> legal{
        {S::draft, S::queued},        {S::draft, S::in_progress},   {S::queued, S::in_progress},
        {S::queued, S::aborted},      {S::queued, S::draft},        {S::in_progress, S::completed},
        {S::in_progress, S::failed},  {S::in_progress, S::aborted}, {S::in_progress, S::queued},
        {S::completed, S::published}, {S::completed, S::draft},     {S::failed, S::draft},
        {S::aborted, S::draft},
    };
    return legal;
}

} // namespace

TEST_CASE("status: all seven statuses round-trip through their names")
{
    CHECK(all_statuses().size() == 7);
    std::set<std::string> names;
    for (Status s : all_statuses()) {
        names.insert(std::string(to_string(s)));
        CHECK(parse_status(to_string(s)) == s);
    }
    CHECK(names
          == std::set<std::string>{"draft", "queued", "in_progress", "completed", "failed", "aborted", "published"});
    CHECK_THROWS_AS(parse_status("bogus"), UsageError);
    CHECK_THROWS_AS(parse_status("Draft"), UsageError);
    CHECK_THROWS_AS(parse_status(""), UsageError);
}

TEST_CASE("status: every legal and illegal transition, table-driven over all pairs")
{
    int legal = 0;
    int refused = 0;
    for (Status from : all_statuses()) {
        for (Status to : all_statuses()) {
            const bool expected = legal_transitions().count({from, to}) > 0;
            const std::string pair = std::string(to_string(from)) + " -> " + std::string(to_string(to));
            CAPTURE(pair);
            CHECK(can_transition(from, to) == expected);
            if (expected) {
                CHECK_NOTHROW(check_transition(from, to));
                ++legal;
            } else {
                ++refused;
                bool threw = false;
                try {
                    check_transition(from, to);
                } catch (const UsageError& e) {
                    threw = true;
                    const std::string msg = e.what();
                    CAPTURE(msg);
                    // The message names both statuses, in order.
                    const size_t at_from = msg.find(std::string(" ") + std::string(to_string(from)));
                    const size_t at_to = msg.rfind(std::string(" ") + std::string(to_string(to)));
                    CHECK(at_from != std::string::npos);
                    CHECK(at_to != std::string::npos);
                    if (from != to) {
                        CHECK(at_from < at_to);
                    }
                    CHECK(msg.find('\n') == std::string::npos);
                }
                CHECK(threw);
            }
        }
    }
    CHECK(legal == 13);
    CHECK(refused == 49 - 13);
}

TEST_CASE("status: published is frozen and the final statuses are final")
{
    for (Status to : all_statuses()) {
        CHECK_FALSE(can_transition(Status::published, to));
    }
    CHECK(is_final(Status::completed));
    CHECK(is_final(Status::failed));
    CHECK(is_final(Status::aborted));
    CHECK(is_final(Status::published));
    CHECK_FALSE(is_final(Status::draft));
    CHECK_FALSE(is_final(Status::queued));
    CHECK_FALSE(is_final(Status::in_progress));
}

TEST_CASE("params: parse_value types the value half of --set")
{
    CHECK(parse_value("1") == Json(1));
    CHECK(parse_value("1").is_number_integer());
    CHECK(parse_value("-3") == Json(-3));
    CHECK(parse_value("-3").is_number_integer());
    CHECK(parse_value("0.5").is_number_float());
    CHECK(parse_value("0.5").get<double>() == doctest::Approx(0.5));
    CHECK(parse_value("-2.25").get<double>() == doctest::Approx(-2.25));
    CHECK(parse_value("1e3").is_number());
    CHECK(parse_value("1e3").get<double>() == doctest::Approx(1000.0));
    CHECK(parse_value("2.5e-2").get<double>() == doctest::Approx(0.025));
    CHECK(parse_value("true") == Json(true));
    CHECK(parse_value("false") == Json(false));
    CHECK(parse_value("null").is_null());
    CHECK(parse_value("[1,2,3]") == Json::array({1, 2, 3}));
    CHECK(parse_value("[\"a\", 2.5]") == Json::parse(R"(["a", 2.5])"));
    CHECK(parse_value(R"({"a":1,"b":{"c":[true]}})") == Json::parse(R"({"a":1,"b":{"c":[true]}})"));
    // Quoted text stays text, whatever it looks like.
    CHECK(parse_value("'1'") == Json("1"));
    CHECK(parse_value("\"true\"") == Json("true"));
    CHECK(parse_value("'[1,2]'") == Json("[1,2]"));
    // Not wholly a number: a string.
    CHECK(parse_value("1e3x") == Json("1e3x"));
    CHECK(parse_value("0x10") == Json("0x10"));
    CHECK(parse_value("1.2.3") == Json("1.2.3"));
    CHECK(parse_value("abc") == Json("abc"));
    CHECK(parse_value("mlp") == Json("mlp"));
    CHECK(parse_value("") == Json(""));
    CHECK(parse_value("True") == Json("True"));
    // A malformed JSON list is an error, not silently a string.
    CHECK_THROWS_AS(parse_value("[1,2"), UsageError);
}

TEST_CASE("params: dotted keys nest, and a value in the way is an error")
{
    Json p = Json::object();
    set_path(p, "model.lr", 0.1);
    set_path(p, "model.kind", "mlp");
    set_path(p, "a.b.c.d", 1);
    CHECK(p["model"]["lr"].get<double>() == doctest::Approx(0.1));
    CHECK(p["model"]["kind"] == "mlp");
    CHECK(p["a"]["b"]["c"]["d"] == 1);
    REQUIRE(get_path(p, "a.b.c") != nullptr);
    CHECK(get_path(p, "a.b.c")->is_object());
    CHECK(get_path(p, "model.missing") == nullptr);
    CHECK(get_path(p, "model.lr.x") == nullptr);

    // model.lr is a number: "model.lr.x" cannot go through it.
    const Json before = p;
    CHECK_THROWS_AS(set_path(p, "model.lr.x", 1), UsageError);
    try {
        set_path(p, "model.lr.x", 1);
    } catch (const UsageError& e) {
        CHECK(std::string(e.what()).find("model.lr") != std::string::npos);
    }
    CHECK(p == before);
    // Malformed keys.
    CHECK_THROWS_AS(set_path(p, "", 1), UsageError);
    CHECK_THROWS_AS(set_path(p, "a..b", 1), UsageError);
    CHECK_THROWS_AS(set_path(p, ".a", 1), UsageError);
    CHECK_THROWS_AS(set_path(p, "a.", 1), UsageError);
    CHECK_THROWS_AS(set_path(p, "a b", 1), UsageError);

    // flatten / merge round trip.
    Json flat = flatten(p);
    CHECK(flat["model.lr"].get<double>() == doctest::Approx(0.1));
    CHECK(flat["a.b.c.d"] == 1);
    Json rebuilt = Json::object();
    merge_params(rebuilt, flat);
    CHECK(rebuilt == p);
}

TEST_CASE("params: parse_assignment needs key=value")
{
    auto [k, v] = parse_assignment("model.epochs=30");
    CHECK(k == "model.epochs");
    CHECK(v == Json(30));
    auto [k2, v2] = parse_assignment("cmd=a=b");
    CHECK(k2 == "cmd");
    CHECK(v2 == Json("a=b"));
    CHECK_THROWS_AS(parse_assignment("model.epochs"), UsageError);
    CHECK_THROWS_AS(parse_assignment("=3"), UsageError);
    CHECK_THROWS_AS(parse_assignment("a..b=3"), UsageError);
}

TEST_CASE("params: the allow-list of editable keys")
{
    const std::vector<std::string> editable{"model", "seed", "data.limit"};
    CHECK(is_editable("model", editable));
    CHECK(is_editable("model.lr", editable));
    CHECK(is_editable("model.opt.beta1", editable));
    CHECK(is_editable("seed", editable));
    CHECK(is_editable("data.limit", editable));
    CHECK_FALSE(is_editable("data", editable));
    CHECK_FALSE(is_editable("data.path", editable));
    CHECK_FALSE(is_editable("models", editable)); // a prefix of the text is not a prefix key
    CHECK_FALSE(is_editable("modelx.lr", editable));
    CHECK_FALSE(is_editable("seeds", editable));
    CHECK_FALSE(is_editable("anything", {}));
    CHECK(is_editable("anything.at.all", {"*"}));

    Json p = Json::parse(R"({"model":{"lr":0.1},"seed":1,"data":{"limit":0,"path":"x.csv"}})");
    apply_sets(p, {"model.lr=0.01", "seed=7", "data.limit=200", "model.hidden=[64,32]"}, &editable);
    CHECK(p["model"]["lr"].get<double>() == doctest::Approx(0.01));
    CHECK(p["seed"] == 7);
    CHECK(p["data"]["limit"] == 200);
    CHECK(p["model"]["hidden"] == Json::array({64, 32}));

    const Json before = p;
    bool threw = false;
    try {
        apply_sets(p, {"data.path=y.csv"}, &editable);
    } catch (const UsageError& e) {
        threw = true;
        const std::string msg = e.what();
        CAPTURE(msg);
        CHECK(msg.find("data.path") != std::string::npos);
        for (const std::string& key : editable) {
            CHECK(msg.find(key) != std::string::npos);
        }
    }
    CHECK(threw);
    CHECK(p == before);
    // Without an allow-list anything goes.
    apply_sets(p, {"data.path=y.csv"});
    CHECK(p["data"]["path"] == "y.csv");
}
