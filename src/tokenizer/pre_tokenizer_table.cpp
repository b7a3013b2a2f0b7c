// Pre-tokenizer names -> regexes and flags, following llama.cpp's llama-vocab.cpp
// (the regexes are the Hugging Face tokenizer.json ones, with (?i:...) spelled out).
#include <array>
#include <string>

#include "tokenizer/pre_tokenizer.h"

namespace pagoda::tokenizer {
namespace {

// Regexes shared by several pre-tokenizers.
const char* const kGpt2 =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
const char* const kLlama3 =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
    "\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const char* const kQwen2 =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
    "\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const char* const kBloom = " ?[^(\\s|.,!?…。，、।۔،)]+";
const char* const kGpt4o =
    "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+"
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|"
    "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*"
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|"
    "\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const char* const kTekken =
    "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+|"
    "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*|"
    "\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const char* const kDeepseekV3Words =
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?"
    "[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+";

PreTokenizerConfig with_regexes(std::vector<std::string> regexes) {
  PreTokenizerConfig c;
  c.regexes = std::move(regexes);
  return c;
}

bool one_of(std::string_view name, std::initializer_list<std::string_view> names) {
  for (auto n : names)
    if (n == name) return true;
  return false;
}

}  // namespace

Expected<PreTokenizerConfig> pre_tokenizer_config(std::string_view name) {
  PreTokenizerConfig c;
  if (name.empty() || name == "default") {
    c = with_regexes({"[\\p{P}\\$\\+<=>\\^~\\|]+", kGpt2, "\\p{N}+", "[0-9][0-9][0-9]"});
  } else if (one_of(name, {"llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral",
                           "midm-2.0", "lfm2"})) {
    c = with_regexes({kLlama3});
    c.ignore_merges = true;
    c.add_bos = true;
  } else if (one_of(name, {"dbrx", "smaug-bpe"})) {
    c = with_regexes({kLlama3});
  } else if (name == "deepseek-llm") {
    // Non-ASCII written as \x{...}: several code points here (U+1F7D, U+212A...) would be
    // silently changed by Unicode normalisation if spelled literally.
    c = with_regexes({
        "[\r\n]",
        "\\s?[A-Za-z\\x{B5}\\x{C0}-\\x{D6}\\x{D8}-\\x{F6}\\x{F8}-\\x{1BA}\\x{1BC}-\\x{1BF}"
        "\\x{1C4}-\\x{293}\\x{295}-\\x{2AF}\\x{370}-\\x{373}\\x{376}\\x{377}\\x{37B}-\\x{37D}"
        "\\x{37F}\\x{386}\\x{388}-\\x{38A}\\x{38C}\\x{38E}-\\x{3A1}\\x{3A3}-\\x{3F5}\\x{3F7}-"
        "\\x{481}\\x{48A}-\\x{52F}\\x{531}-\\x{556}\\x{10A0}-\\x{10C5}\\x{13A0}-\\x{13F5}"
        "\\x{13F8}-\\x{13FD}\\x{1C90}-\\x{1CBA}\\x{1CBD}-\\x{1CBF}\\x{1D00}-\\x{1D2B}"
        "\\x{1D6B}-\\x{1D77}\\x{1D79}-\\x{1D9A}\\x{1E00}-\\x{1F15}\\x{1F18}-\\x{1F1D}"
        "\\x{1F20}-\\x{1F45}\\x{1F48}-\\x{1F4D}\\x{1F50}-\\x{1F57}\\x{1F59}\\x{1F5B}\\x{1F5D}"
        "\\x{1F5F}-\\x{1F7D}\\x{1F80}-\\x{1FB4}\\x{1FB6}-\\x{1FBC}\\x{1FBE}\\x{1FC2}-"
        "\\x{1FC4}\\x{1FC6}-\\x{1FCC}\\x{1FD0}-\\x{1FD3}\\x{1FD6}-\\x{1FDB}\\x{1FE0}-"
        "\\x{1FEC}\\x{1FF2}-\\x{1FF4}\\x{1FF6}-\\x{1FFC}\\x{2102}\\x{2107}\\x{210A}-\\x{2113}"
        "\\x{2115}\\x{2119}-\\x{211D}\\x{2124}\\x{2126}\\x{2128}\\x{212A}-\\x{212D}\\x{212F}-"
        "\\x{2134}\\x{2139}\\x{213C}-\\x{213F}\\x{2145}-\\x{2149}\\x{214E}\\x{2183}\\x{2184}"
        "\\x{2C00}-\\x{2C7B}\\x{2C7E}-\\x{2CE4}\\x{2CEB}-\\x{2CEE}\\x{2CF2}\\x{2CF3}\\x{A640}"
        "-\\x{A66D}\\x{A680}-\\x{A69B}\\x{A722}-\\x{A76F}\\x{A771}-\\x{A787}\\x{A78B}-"
        "\\x{A78E}\\x{AB70}-\\x{ABBF}\\x{FB00}-\\x{FB06}\\x{FB13}-\\x{FB17}\\x{FF21}-"
        "\\x{FF3A}\\x{FF41}-\\x{FF5A}\\x{10400}-\\x{1044F}\\x{104B0}-\\x{104D3}\\x{104D8}-"
        "\\x{104FB}\\x{10C80}-\\x{10CB2}\\x{10CC0}-\\x{10CF2}\\x{118A0}-\\x{118DF}\\x{1E900}-"
        "\\x{1E943}]+",
        "\\s?[!-/:-~！-／：-～‘-‟　-。]+",
        "\\s+$",
        "[一-龥ࠀ-一가-퟿]+",
        "\\p{N}+",
    });
    c.clean_spaces = false;
  } else if (name == "deepseek-coder") {
    c = with_regexes({"[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", "[一-龥ࠀ-一가-퟿]+", "\\p{N}"});
    c.clean_spaces = false;
  } else if (name == "deepseek-v3") {
    c = with_regexes({"\\p{N}{1,3}", "[一-龥぀-ゟ゠-ヿ]+", kDeepseekV3Words});
    c.clean_spaces = false;
  } else if (name == "falcon") {
    c = with_regexes({"[\\p{P}\\$\\+<=>\\^~\\|`]+", kGpt2, "[0-9][0-9][0-9]"});
  } else if (one_of(name, {"starcoder", "refact", "codeshell", "exaone", "minerva-7b"})) {
    c = with_regexes({"\\p{N}", kGpt2});
  } else if (one_of(name, {"command-r", "smollm"})) {
    c = with_regexes({"\\p{N}", kGpt2});
    c.clean_spaces = false;
  } else if (one_of(name, {"gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es",
                           "jina-v2-de", "a.x-4.0", "mellum", "modern-bert", "mpt", "olmo",
                           "jais", "exaone4"})) {
    c = with_regexes({kGpt2});
  } else if (one_of(name, {"jina-v1-en", "jina-v2-code", "roberta-bpe"})) {
    c = with_regexes({kGpt2});
    c.add_sep = true;
  } else if (name == "trillion" || name == "granite-docling") {
    c = with_regexes({kGpt2});
    c.clean_spaces = false;
  } else if (one_of(name, {"qwen2", "deepseek-r1-qwen", "kormo", "megrez"})) {
    c = with_regexes({kQwen2});
    c.clean_spaces = name == "megrez";
  } else if (name == "stablelm2") {
    c = with_regexes({kQwen2});
  } else if (name == "hunyuan" || name == "solar-open") {
    c = with_regexes({kQwen2});
    c.clean_spaces = false;
  } else if (name == "poro-chat") {
    c = with_regexes({kBloom});
    c.clean_spaces = false;
  } else if (name == "bloom" || name == "gpt3-finnish") {
    c = with_regexes({kBloom});
  } else if (name == "viking") {
    c = with_regexes({kBloom, "\\p{N}"});
    c.clean_spaces = false;
  } else if (name == "chatglm-bpe" || name == "glm4") {
    c = with_regexes({kLlama3});
    c.no_bos = true;
  } else if (name == "tekken") {
    c = with_regexes({kTekken});
    c.clean_spaces = false;
    c.ignore_merges = true;
    c.add_bos = true;
  } else if (name == "chameleon") {
    c = with_regexes({"<sentinel:[0-9]+>", "(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z",
                      "([\\t\\n]|    |  )", "\\p{N}", "[\\p{P}!-/:-@\\[-`{-~]", kGpt2});
    c.add_bos = true;
    c.clean_spaces = false;
  } else if (one_of(name, {"gpt-4o", "llama4", "minimax-m2"})) {
    c = with_regexes({kGpt4o});
    c.clean_spaces = false;
  } else if (name == "superbpe") {
    c = with_regexes({"\\p{N}+", "(?=(\\d{3})+(?!\\d))"});
    c.clean_spaces = false;
  } else if (name == "bailingmoe" || name == "bailingmoe2" || name == "llada-moe") {
    c = with_regexes({"'(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
                      "\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+"});
    c.clean_spaces = false;
  } else if (name == "seed-coder") {
    c = with_regexes({"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|"
                      "[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1}| ?[^\\s\\p{L}\\p{N}\\r\\n]+|"
                      "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"});
    c.clean_spaces = false;
  } else if (name == "grok-2") {
    c = with_regexes({kQwen2});
    c.clean_spaces = false;
  } else {
    return Error{"unknown pre-tokenizer type '" + std::string(name) + "'"};
  }
  return c;
}

}  // namespace pagoda::tokenizer
