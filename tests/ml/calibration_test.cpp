// Calibration, bootstrap and fold golden tests. Every expected value below was computed by
// scikit-learn 1.2.1 (scripts/calibration_reference.py, run with /usr/bin/python3, output pasted
// verbatim): CalibratedClassifierCV(cv='prefit') over a classifier whose predict_proba returns
// the inputs, IsotonicRegression(out_of_bounds='clip'), roc_auc_score, StratifiedKFold.
// The inputs are the script's formulas, repeated here.
#include "ml/bootstrap.hpp"
#include "ml/calibration.hpp"
#include "ml/cross_validation.hpp"
#include "ml/metrics.hpp"
#include "ml/search.hpp"

#include "core/error.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <vector>

namespace {

namespace ml = mlrun::ml;
using mlrun::UsageError;

const std::vector<double> k_binary_sigmoid = {
    0.031502934199821954, 0.45264838290394438,  0.9545970921304896,   0.072348981669327378, 0.66475005564666456,
    0.98054918319885498,  0.15754041130039315,  0.82621631618028946,  0.99179468726043052,  0.30956940158236668,
    0.9193505735915033,   0.040569956375913874, 0.51808645079995885,  0.96470450022165699,  0.092054708647866038,
    0.72048888283156187,  0.98497020610712016,  0.1955582091517232,   0.86073384591591673,  0.99367617695676413,
    0.36823876297585728,  0.93678481082493903,  0.052106204261164843, 0.58290994372089855,  0.97262636089095056,
    0.11645390803698938,  0.77016463924212253,  0.98839825353848132,  0.24013539273953663,  0.88931386222823994,
    0.99512835758449536,  0.43108473500047201,  0.95065253128576721,  0.066694799713167011, 0.64498882060952933,
    0.97880926393507994,  0.14627824343777776,  0.81329958176582962,  0.99105152344804581,  0.29119563985874342,
    0.91262411604167837,  0.037299492069612708, 0.49623165352498838,  0.96160274008656144,  0.085001609156673513,
    0.70254298585729291,  0.98361915062913141,  0.18216591655162359,  0.84991664001097467,  0.99310223648460472,
    0.34813865438420738,  0.93140393841950586,  0.047952248748080246, 0.56150677767078505,  0.97019926653009958,
    0.10775323757263848,  0.75432059687065345,  0.9873513942852058,   0.2245424576745155,   0.88040811321017709};
const std::vector<double> k_multi_sigmoid = {
    0.31335685037527805, 0.34820819446997803, 0.33843495515474387, 0.42061277202410791, 0.27054984358372158,
    0.30883738439217046, 0.32580352346712904, 0.33178051045759305, 0.34241596607527797, 0.18954873784481191,
    0.4619602246241416,  0.34849103753104649, 0.32734217144763184, 0.3297751640362046,  0.34288266451616367,
    0.46054546384955569, 0.23253544068778231, 0.30691909546266194, 0.26338106181107962, 0.40110951447507764,
    0.33550942371384279, 0.39809706328419353, 0.27693488650165726, 0.32496805021414915, 0.32326619726153422,
    0.32387107875641485, 0.35286272398205093, 0.39619333407771834, 0.30208866799987832, 0.30171799792240339,
    0.19818179160297925, 0.45025945182932198, 0.35155875656769875, 0.36193576417378337, 0.31506850911544959,
    0.32299572671076721, 0.27537740200921063, 0.37484905308036615, 0.34977354491042328, 0.16214443294790606,
    0.45859610282635122, 0.37925946422574269, 0.45215882312215083, 0.25067531872954874, 0.29716585814830043,
    0.37145758306721388, 0.30155502584234128, 0.32698739109044467, 0.24057113335877733, 0.38918965253542082,
    0.37023921410580196, 0.35352964760020034, 0.31240281965990524, 0.33406753273989453, 0.50218490503574087,
    0.207996477158159,   0.28981861780610024, 0.31299591919756803, 0.36413887918055349, 0.32286520162187848,
    0.17043292310188418, 0.47798282340771053, 0.35158425349040529, 0.35770408087929195, 0.30148423429576798,
    0.34081168482494006, 0.24402489564986676, 0.40303817496484257, 0.35293692938529064, 0.2910071745759758,
    0.37873480262991921, 0.33025802279410499, 0.44922423731639716, 0.23307084486995441, 0.31770491781364846,
    0.31335685037527805, 0.34820819446997803, 0.33843495515474387, 0.20609835121806516, 0.42526404754207542,
    0.3686376012398595,  0.48018246758616745, 0.23333753823006725, 0.28647999418376519, 0.41211532033514181,
    0.27530475084958311, 0.31257992881527513, 0.29965722849024379, 0.34842296103034426, 0.35191981047941179,
    0.15830706789764964, 0.49067840140452618, 0.35101453069782407, 0.31370670458021715, 0.33832496081621916,
    0.34796833460356358, 0.45391189823913375, 0.23275719735945757, 0.31333090440140865, 0.22830202219733489,
    0.43057339887568363, 0.34112457892698145, 0.38933605656042186, 0.281288978937421,   0.32937496450215703,
    0.27548518004328948, 0.38002059045310049, 0.34449422950361003, 0.37424383952877716, 0.31911478728051151,
    0.30664137319071127, 0.47822680598039485, 0.2159199759558284,  0.30585321806377674, 0.34895083544691313,
    0.32382757259002648, 0.32722159196306022, 0.25022396251595191, 0.39287032936367111, 0.35690570812037697,
    0.12446876494142764, 0.48805677574432599, 0.38747445931424646, 0.44794382566831348, 0.25269117966895066,
    0.29936499466273586, 0.35352964760020034, 0.31240281965990524, 0.33406753273989453, 0.19968476466996354,
    0.455660745909644,   0.34465448942039245, 0.34238891844744374, 0.31919479475864165, 0.33841628679391456};
const std::vector<double> k_binary_isotonic = {0,
                                               0.29999999999999999,
                                               1,
                                               0,
                                               0.66666666666666663,
                                               1,
                                               0,
                                               0.80000000000000004,
                                               1,
                                               0.29999999999999999,
                                               1,
                                               0,
                                               0.66666666666666663,
                                               1,
                                               0,
                                               0.80000000000000004,
                                               1,
                                               0.29999999999999999,
                                               1,
                                               1,
                                               0.29999999999999999,
                                               1,
                                               0,
                                               0.66666666666666663,
                                               1,
                                               0,
                                               0.80000000000000004,
                                               1,
                                               0.29999999999999999,
                                               1,
                                               1,
                                               0.29999999999999999,
                                               1,
                                               0,
                                               0.66666666666666663,
                                               1,
                                               0,
                                               0.80000000000000004,
                                               1,
                                               0.29999999999999999,
                                               1,
                                               0,
                                               0.29999999999999999,
                                               1,
                                               0,
                                               0.66666666666666663,
                                               1,
                                               0,
                                               1,
                                               1,
                                               0.29999999999999999,
                                               1,
                                               0,
                                               0.66666666666666663,
                                               1,
                                               0,
                                               0.80000000000000004,
                                               1,
                                               0.29999999999999999,
                                               1};
const std::vector<double> k_multi_isotonic = {0.30303030303030298,
                                              0.30303030303030298,
                                              0.39393939393939392,
                                              0.30303030303030298,
                                              0.30303030303030298,
                                              0.39393939393939392,
                                              0.26178010471204188,
                                              0.3979057591623037,
                                              0.34031413612565448,
                                              0,
                                              0.59375,
                                              0.40625000000000006,
                                              0.26178010471204188,
                                              0.3979057591623037,
                                              0.34031413612565448,
                                              0.56928838951310867,
                                              0.18726591760299624,
                                              0.24344569288389514,
                                              0.1909547738693467,
                                              0.35175879396984921,
                                              0.457286432160804,
                                              0.56928838951310867,
                                              0.18726591760299624,
                                              0.24344569288389514,
                                              0.31531531531531531,
                                              0.68468468468468469,
                                              0,
                                              0.43478260869565216,
                                              0,
                                              0.56521739130434789,
                                              0.14503816793893132,
                                              0.50763358778625955,
                                              0.34732824427480918,
                                              0.30303030303030298,
                                              0.30303030303030298,
                                              0.39393939393939392,
                                              0.19191919191919193,
                                              0.47979797979797983,
                                              0.32828282828282834,
                                              0.13523131672597866,
                                              0.54092526690391463,
                                              0.32384341637010683,
                                              0.70046082949308763,
                                              0,
                                              0.29953917050691248,
                                              0.30303030303030298,
                                              0.30303030303030298,
                                              0.39393939393939392,
                                              0.2253218884120172,
                                              0.48927038626609448,
                                              0.28540772532188846,
                                              0.30303030303030298,
                                              0.30303030303030298,
                                              0.39393939393939392,
                                              0.70046082949308763,
                                              0,
                                              0.29953917050691248,
                                              0.24836601307189543,
                                              0.32679738562091498,
                                              0.42483660130718953,
                                              0,
                                              0.59375,
                                              0.40625000000000006,
                                              0.24000000000000002,
                                              0.45600000000000007,
                                              0.30400000000000005,
                                              0.14503816793893132,
                                              0.50763358778625955,
                                              0.34732824427480918,
                                              0.24836601307189543,
                                              0.32679738562091498,
                                              0.42483660130718953,
                                              0.57286432160804024,
                                              0.18844221105527639,
                                              0.23869346733668342,
                                              0.30303030303030298,
                                              0.30303030303030298,
                                              0.39393939393939392,
                                              0.13523131672597866,
                                              0.54092526690391463,
                                              0.32384341637010683,
                                              0.70046082949308763,
                                              0,
                                              0.29953917050691248,
                                              0.30303030303030298,
                                              0.30303030303030298,
                                              0.39393939393939392,
                                              0.23809523809523811,
                                              0.45238095238095244,
                                              0.30952380952380959,
                                              0,
                                              0.62551440329218111,
                                              0.37448559670781895,
                                              0.23809523809523811,
                                              0.45238095238095244,
                                              0.30952380952380959,
                                              0.57286432160804024,
                                              0.18844221105527639,
                                              0.23869346733668342,
                                              0.1909547738693467,
                                              0.35175879396984921,
                                              0.457286432160804,
                                              0.56928838951310867,
                                              0.18726591760299624,
                                              0.24344569288389514,
                                              0.21229050279329609,
                                              0.42458100558659218,
                                              0.36312849162011174,
                                              0.43478260869565216,
                                              0,
                                              0.56521739130434789,
                                              0.57286432160804024,
                                              0.18844221105527639,
                                              0.23869346733668342,
                                              0.30303030303030298,
                                              0.30303030303030298,
                                              0.39393939393939392,
                                              0.17960837272113439,
                                              0.51316677920324105,
                                              0.30722484807562461,
                                              0,
                                              0.63157894736842113,
                                              0.36842105263157898,
                                              0.70046082949308763,
                                              0,
                                              0.29953917050691248,
                                              0.30303030303030298,
                                              0.30303030303030298,
                                              0.39393939393939392,
                                              0.16142735768903993,
                                              0.45199660152931181,
                                              0.38657604078164826,
                                              0.26178010471204188,
                                              0.3979057591623037,
                                              0.34031413612565448};
const std::vector<double> k_iso_queries = {
    -0.5, 0, 0.0050000000000000001, 0.33300000000000002, 0.5, 0.77700000000000002, 1, 1.5};
const std::vector<double> k_iso_expected = {0, 0, 0, 0.29999999999999999, 0.80000000000000004, 1, 1, 1};
const std::vector<double> k_fold_roc_auc = {0.97142857142857153, 0.88571428571428568, 1, 1, 0.96875};
const std::vector<int> k_binary_folds = {0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 1, 0, 0, 1, 0, 1, 1, 1, 1,
                                         1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 2, 3, 3, 3,
                                         3, 3, 3, 3, 3, 3, 3, 4, 3, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4};
const std::vector<int> k_multi_folds = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2,
                                        1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3};
constexpr double k_binary_roc_auc = 0.95138888888888884;
constexpr double k_binary_log_loss = 0.37887279650237365;

// The script's binary_inputs(): score of row i and its label.
void binary_inputs(std::vector<double>& p, std::vector<int>& y)
{
    for (int i = 0; i < 60; ++i) {
        p.push_back(((i * 37) % 101) / 100.0);
        y.push_back(((i * 37) % 101) + ((i * 53) % 41) > 60 ? 1 : 0);
    }
}

ml::Matrix binary_matrix(const std::vector<double>& p)
{
    ml::Matrix m(static_cast<std::int64_t>(p.size()), 2);
    for (size_t i = 0; i < p.size(); ++i) {
        m.at(static_cast<std::int64_t>(i), 0) = static_cast<float>(1.0 - p[i]);
        m.at(static_cast<std::int64_t>(i), 1) = static_cast<float>(p[i]);
    }
    return m;
}

// The script's multi_inputs().
void multi_inputs(ml::Matrix& m, std::vector<int>& y)
{
    m = ml::Matrix(45, 3);
    for (int i = 0; i < 45; ++i) {
        const double a = 1 + (i * 7) % 10;
        const double b = 1 + (i * 11) % 9;
        const double c = 1 + (i * 5) % 8;
        const double s = a + b + c;
        m.at(i, 0) = static_cast<float>(a / s);
        m.at(i, 1) = static_cast<float>(b / s);
        m.at(i, 2) = static_cast<float>(c / s);
        y.push_back((i * 7 + (i / 3)) % 3);
    }
}

} // namespace

TEST_CASE("ml::fit_sigmoid and ml::fit_isotonic equal scikit-learn on fixed scores")
{
    std::vector<double> p;
    std::vector<int> y;
    binary_inputs(p, y);
    const ml::SigmoidCalibrator sigmoid = ml::fit_sigmoid(p, y);
    REQUIRE(k_binary_sigmoid.size() == p.size());
    for (size_t i = 0; i < p.size(); ++i) {
        CAPTURE(i);
        CHECK(sigmoid.predict(p[i]) == doctest::Approx(k_binary_sigmoid[i]).epsilon(1e-6));
    }
    const ml::IsotonicCalibrator iso = ml::fit_isotonic(p, std::vector<double>(y.begin(), y.end()));
    for (size_t i = 0; i < p.size(); ++i) {
        CAPTURE(i);
        CHECK(iso.predict(p[i]) == doctest::Approx(k_binary_isotonic[i]).epsilon(1e-12));
    }
    for (size_t i = 0; i < k_iso_queries.size(); ++i) {
        CAPTURE(k_iso_queries[i]);
        CHECK(iso.predict(k_iso_queries[i]) == doctest::Approx(k_iso_expected[i]).epsilon(1e-12));
    }
    // Isotonic output never decreases with the score.
    std::vector<double> sorted = p;
    std::sort(sorted.begin(), sorted.end());
    for (size_t i = 1; i < sorted.size(); ++i) {
        CHECK(iso.predict(sorted[i]) >= iso.predict(sorted[i - 1]));
    }
}

TEST_CASE("ml::Calibration matches CalibratedClassifierCV(cv='prefit'), binary and multi-class")
{
    std::vector<double> p;
    std::vector<int> y;
    binary_inputs(p, y);
    const ml::Matrix m2 = binary_matrix(p);
    ml::Matrix m3;
    std::vector<int> y3;
    multi_inputs(m3, y3);
    for (const char* method : {"sigmoid", "isotonic"}) {
        CAPTURE(method);
        const bool sig = std::string(method) == "sigmoid";
        const ml::Calibration c2 = ml::Calibration::fit(method, m2, y);
        const ml::Matrix out2 = c2.apply(m2);
        const std::vector<double>& want2 = sig ? k_binary_sigmoid : k_binary_isotonic;
        for (std::int64_t r = 0; r < out2.rows; ++r) {
            CAPTURE(r);
            CHECK(out2.at(r, 1) == doctest::Approx(want2[static_cast<size_t>(r)]).epsilon(1e-5));
            CHECK(out2.at(r, 0) + out2.at(r, 1) == doctest::Approx(1.0).epsilon(1e-6));
        }
        const ml::Calibration c3 = ml::Calibration::fit(method, m3, y3);
        const ml::Matrix out3 = c3.apply(m3);
        const std::vector<double>& want3 = sig ? k_multi_sigmoid : k_multi_isotonic;
        REQUIRE(want3.size() == out3.data.size());
        for (size_t i = 0; i < want3.size(); ++i) {
            CAPTURE(i);
            CHECK(out3.data[i] == doctest::Approx(want3[i]).epsilon(1e-5));
        }
        // Saved and read back: the same probabilities.
        const ml::Calibration back = ml::Calibration::from_json(c3.to_json(), "calibration.json");
        CHECK(back.apply(m3).data == out3.data);
    }
    SUBCASE("bad inputs")
    {
        CHECK_THROWS_AS(ml::Calibration::fit("platt", m2, y), UsageError);
        CHECK_THROWS_AS(ml::Calibration::fit("sigmoid", m2, {}), UsageError);
        CHECK_THROWS_AS(ml::Calibration::from_json({{"method", "sigmoid"}}, "x.json"), UsageError);
        CHECK(ml::default_calibration("random_forest") == "sigmoid");
        CHECK(ml::default_calibration("knn") == "sigmoid");
        CHECK(ml::default_calibration("boost") == "sigmoid");
        CHECK(ml::default_calibration("logreg") == "none");
    }
}

TEST_CASE("ml::expected_calibration_error: 10 equal-width bins of top-label confidence")
{
    // 4 rows at confidence 0.95 (3 right), 2 at 0.65 (both right), 2 at 0.55 (one right).
    ml::Matrix m(8, 2);
    const std::vector<float> pos{0.95f, 0.95f, 0.95f, 0.05f, 0.65f, 0.35f, 0.55f, 0.45f};
    const std::vector<int> y{1, 1, 0, 0, 1, 0, 1, 1};
    for (std::int64_t r = 0; r < 8; ++r) {
        m.at(r, 1) = pos[static_cast<size_t>(r)];
        m.at(r, 0) = 1.0f - pos[static_cast<size_t>(r)];
    }
    const auto bins = ml::reliability_bins(y, m);
    REQUIRE(bins.size() == 10);
    CHECK(bins[9].count == 4);
    CHECK(bins[9].accuracy == doctest::Approx(0.75));
    CHECK(bins[6].count == 2);
    CHECK(bins[5].count == 2);
    CHECK(bins[0].count == 0);
    // |0.75 - 0.95| * 4/8 + |1 - 0.65| * 2/8 + |0.5 - 0.55| * 2/8
    CHECK(ml::expected_calibration_error(y, m) == doctest::Approx(0.1 + 0.0875 + 0.0125).epsilon(1e-6));
}

TEST_CASE("ml bootstrap: seeded percentile intervals cover scikit-learn's value; paired differences")
{
    std::vector<double> p;
    std::vector<int> y;
    binary_inputs(p, y);
    const ml::Matrix m = binary_matrix(p);
    CHECK(ml::metric_value("roc_auc", y, m) == doctest::Approx(k_binary_roc_auc).epsilon(1e-12));
    const auto samples = ml::bootstrap_samples(y.size(), ml::k_bootstrap_resamples, 42);
    const std::vector<double> reps = ml::bootstrap_replicates("roc_auc", y, m, samples);
    const ml::Interval ci = ml::percentile_interval(reps);
    CAPTURE(ci.low);
    CAPTURE(ci.high);
    CHECK(ci.used == 1000);
    CHECK(ci.low < k_binary_roc_auc);
    CHECK(ci.high > k_binary_roc_auc);
    CHECK(ci.high - ci.low < 0.2);
    // Same seed, same interval; another seed, another one.
    const ml::Interval again = ml::percentile_interval(
        ml::bootstrap_replicates("roc_auc", y, m, ml::bootstrap_samples(y.size(), 1000, 42)));
    CHECK(again.low == ci.low);
    CHECK(again.high == ci.high);
    const ml::Interval other = ml::percentile_interval(
        ml::bootstrap_replicates("roc_auc", y, m, ml::bootstrap_samples(y.size(), 1000, 7)));
    CHECK((other.low != ci.low || other.high != ci.high));
    const ml::Interval loss = ml::percentile_interval(ml::bootstrap_replicates("log_loss", y, m, samples));
    CHECK(loss.low < k_binary_log_loss);
    CHECK(loss.high > k_binary_log_loss);

    // numpy.percentile (linear) of 1..5 at 2.5 % and 97.5 %: 1.1 and 4.9.
    const ml::Interval five = ml::percentile_interval({5, 1, 4, 2, 3, std::nan("")});
    CHECK(five.used == 5);
    CHECK(five.low == doctest::Approx(1.1));
    CHECK(five.high == doctest::Approx(4.9));

    SUBCASE("paired: a model against itself is not distinguishable; against noise it is")
    {
        const ml::Interval self = ml::percentile_interval(ml::paired_differences(reps, reps, false));
        CHECK(self.low <= 0);
        CHECK(self.high >= 0);
        ml::Matrix noise = m;
        for (std::int64_t r = 0; r < noise.rows; ++r) {
            const float v = static_cast<float>(((r * 17) % 60) / 60.0);
            noise.at(r, 1) = v;
            noise.at(r, 0) = 1.0f - v;
        }
        const std::vector<double> worse = ml::bootstrap_replicates("roc_auc", y, noise, samples);
        const ml::Interval d = ml::percentile_interval(ml::paired_differences(reps, worse, false));
        CHECK(d.low > 0);
    }
}

TEST_CASE("ml::stratified_kfold gives scikit-learn's StratifiedKFold folds; fold metrics equal on them")
{
    std::vector<double> p;
    std::vector<int> y;
    binary_inputs(p, y);
    CHECK(ml::stratified_kfold(y, 5) == k_binary_folds);
    ml::Matrix m3;
    std::vector<int> y3;
    multi_inputs(m3, y3);
    CHECK(ml::stratified_kfold(y3, 4) == k_multi_folds);
    // Our roc_auc on each fold's rows equals scikit-learn's on the same indices.
    for (int k = 0; k < 5; ++k) {
        std::vector<double> fp;
        std::vector<int> fy;
        for (size_t i = 0; i < y.size(); ++i) {
            if (k_binary_folds[i] == k) {
                fp.push_back(p[i]);
                fy.push_back(y[i]);
            }
        }
        CHECK(ml::metric_value("roc_auc", fy, binary_matrix(fp))
              == doctest::Approx(k_fold_roc_auc[static_cast<size_t>(k)]).epsilon(1e-12));
    }
    CHECK_THROWS_AS(ml::stratified_kfold(y, 2), UsageError);
    CHECK_THROWS_AS(ml::stratified_kfold({0, 0, 0, 1, 1}, 3), UsageError);
}

TEST_CASE("ml::cross_validate: K fits, each fold scored out of fold, calibrated model saved and reloaded")
{
    // Two noisy Gaussian-like blobs from a formula; knn is deterministic.
    ml::LabeledSet all;
    all.class_names = {"a", "b"};
    all.feature_names = {"x0", "x1"};
    const int n = 150;
    all.x = ml::Matrix(n, 2);
    for (int i = 0; i < n; ++i) {
        const int label = (i * 7) % 3 == 0 ? 1 : 0;
        all.y.push_back(label);
        all.ids.push_back("r" + std::to_string(i));
        all.x.at(i, 0) = static_cast<float>(label * 1.2 + ((i * 37) % 23) / 11.0 - 1.0);
        all.x.at(i, 1) = static_cast<float>(-label * 0.8 + ((i * 53) % 19) / 9.0 - 1.0);
    }
    std::vector<size_t> first;
    std::vector<size_t> rest;
    for (size_t i = 0; i < static_cast<size_t>(n); ++i) {
        (i < 100 ? first : rest).push_back(i);
    }
    const ml::LabeledSet train = ml::subset_rows(all, first);
    const ml::LabeledSet valid = ml::subset_rows(all, rest);
    ml::CvOptions o;
    o.k = 5;
    o.kind = "knn";
    o.model_params = {{"k", 5}};
    o.calibration = "sigmoid";
    o.fit.metric = "roc_auc";
    const ml::CvResult cv = ml::cross_validate(train, valid, o);
    REQUIRE(cv.values.size() == 5);
    CHECK(cv.fold_of_row == ml::stratified_kfold(all.y, 5));
    double sum = 0;
    for (int k = 0; k < 5; ++k) {
        std::vector<int> fy;
        ml::Matrix fp(0, 2);
        for (size_t i = 0; i < cv.fold_of_row.size(); ++i) {
            if (cv.fold_of_row[i] == k) {
                fy.push_back(all.y[i]);
                fp.data.push_back(cv.proba.at(static_cast<std::int64_t>(i), 0));
                fp.data.push_back(cv.proba.at(static_cast<std::int64_t>(i), 1));
                ++fp.rows;
            }
        }
        CHECK(cv.values[static_cast<size_t>(k)] == doctest::Approx(ml::metric_value("roc_auc", fy, fp)));
        sum += cv.values[static_cast<size_t>(k)];
    }
    CHECK(cv.mean == doctest::Approx(sum / 5));
    CHECK(cv.std >= 0);
    CHECK(cv.mean > 0.6);
    const nlohmann::json j = cv.to_json();
    CHECK(j.at("k") == 5);
    CHECK(j.at("folds").size() == 5);
    CHECK(j.at("folds")[0].at("valid_fold") == 1);

    SUBCASE("a calibrated model round-trips through its folder")
    {
        auto model = ml::make_model("knn", {{"k", 5}}, 2, 2, {});
        ml::FitOptions fo;
        model->fit(train, valid, fo);
        const ml::Matrix raw = model->predict_proba(valid.x);
        ml::Calibration cal = ml::Calibration::fit("isotonic", raw, valid.y);
        const ml::Matrix expected = cal.apply(raw);
        auto wrapped = ml::calibrated(std::move(model), std::move(cal));
        CHECK(wrapped->kind() == "knn");
        CHECK(wrapped->predict_proba(valid.x).data == expected.data);
        const std::filesystem::path dir = std::filesystem::temp_directory_path() / "mlrun_calibrated_model_test";
        std::filesystem::remove_all(dir);
        ml::save_model(*wrapped, dir, train, nullptr);
        CHECK(std::filesystem::is_regular_file(dir / ml::k_calibration_file));
        const auto loaded = ml::load_model(dir);
        CHECK(loaded->predict_proba(valid.x).data == expected.data);
        std::filesystem::remove_all(dir);
    }
}
