// check_utf8 (simdjson) and valid_utf8 (our decoder) agree on what well-formed UTF-8 is.
#include "core/error.hpp"
#include "core/params.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace mlrun;

namespace {

std::string error_of(const std::string& text)
{
    try {
        check_utf8(text, "name");
    } catch (const UsageError& e) {
        return e.what();
    }
    return "";
}

} // namespace

TEST_CASE("check_utf8 accepts well-formed multi-byte text, up to U+10FFFF")
{
    const std::vector<std::string> good{
        "",
        "plain ascii",
        "caf\xC3\xA9",                  // U+00E9
        "\xE2\x82\xAC 5",               // U+20AC
        "\xED\x9F\xBF",                 // U+D7FF, just below the surrogates
        "\xEE\x80\x80",                 // U+E000, just above them
        "\xF0\x9D\x84\x9E",             // U+1D11E
        "\xF4\x8F\xBF\xBF",             // U+10FFFF
        "\xF0\x90\x80\x80\xE0\xA0\x80", // U+10000 and U+0800, the smallest of their lengths
    };
    for (const std::string& text : good) {
        CAPTURE(text);
        CHECK(error_of(text).empty());
        CHECK(valid_utf8(text) == text);
    }
}

TEST_CASE("check_utf8 refuses overlong forms, surrogates, code points above U+10FFFF and broken sequences")
{
    const std::vector<std::string> bad{
        "\xC0\xAF",         // overlong '/'
        "\xC1\xBF",         // overlong U+007F
        "\xE0\x80\xAF",     // overlong '/' in three bytes
        "\xE0\x9F\xBF",     // overlong U+07FF
        "\xF0\x80\x80\xAF", // overlong '/' in four bytes
        "\xF0\x8F\xBF\xBF", // overlong U+FFFF
        "\xED\xA0\x80",     // U+D800, a surrogate
        "\xED\xBF\xBF",     // U+DFFF
        "\xF4\x90\x80\x80", // U+110000
        "\xF5\x80\x80\x80", // above U+10FFFF by its first byte
        "\xFF",             // never in UTF-8
        "\x80",             // a lone continuation byte
        "\xE2\x82",         // truncated
        "\xE2\x28\xA1",     // a continuation byte missing
    };
    for (const std::string& text : bad) {
        CAPTURE(text);
        CHECK(error_of(text) == "name: not valid UTF-8 (byte 1)");
        CHECK(valid_utf8(text) != text);
    }
}

TEST_CASE("check_utf8 names the first bad byte")
{
    // Split literals: a hex escape would swallow the letter after it.
    CHECK(error_of(std::string("ab\xC3\xA9") + "c\xED\xA0\x80x\xC0") == "name: not valid UTF-8 (byte 6)");
    CHECK(valid_utf8(std::string("a\xC0\xAF") + "b") == std::string("a\xEF\xBF\xBD\xEF\xBF\xBD") + "b");
}
