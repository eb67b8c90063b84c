// bfpo's native BPE encoder, for data preparation: SentencePiece-style BPE vocabularies (Llama 2, Mistral, Zephyr)
// with added tokens, the `▁` normalizer, byte fallback and unknown-token fusing. TypeScript decides whether a
// tokenizer.json is one this encoder covers (src/io/native-tokenizer.ts) and hands over the resolved tables; the
// ids are checked against the reference tokenizer before they are used. Encoding runs off the JS thread, on as many
// threads as the machine has, each with its own word cache.
#include "common.h"

#include <algorithm>
#include <functional>
#include <atomic>
#include <cstring>
#include <memory>
#include <mutex>
#include <queue>
#include <thread>

namespace bfpo {
namespace {

constexpr char kMeta[] = "\xE2\x96\x81";  // U+2581, the SentencePiece space mark
constexpr size_t kMetaLen = 3;
constexpr size_t kCacheLimit = 1 << 20;  // words per cache before it is cleared
constexpr size_t kMaxCachedWord = 256;   // longer words are encoded every time
constexpr uint8_t kLetter = 1, kNumber = 2, kSpace = 4;  // character classes of byte-level pre-tokenizers

// Word -> ids, open addressing over byte strings kept in one arena (no allocation per lookup).
class WordCache {
 public:
  WordCache() { Reset(1 << 14); }

  // The cached ids of the word, or nullptr.
  const int32_t* Find(const char* p, size_t n, uint64_t h, uint32_t* count) const {
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.keyLen == kEmpty) return nullptr;
      if (s.hash == h && s.keyLen == n && std::memcmp(keys_.data() + s.keyOff, p, n) == 0) {
        *count = s.valLen;
        return vals_.data() + s.valOff;
      }
    }
  }

  void Insert(const char* p, size_t n, uint64_t h, const int32_t* ids, size_t count) {
    if (used_ >= kCacheLimit || keys_.size() + n > (1u << 30) || vals_.size() + count > (1u << 30)) Reset(slots_.size());
    if (2 * (used_ + 1) > slots_.size()) Grow();
    Slot s{h, static_cast<uint32_t>(keys_.size()), static_cast<uint32_t>(n), static_cast<uint32_t>(vals_.size()), static_cast<uint32_t>(count)};
    keys_.append(p, n);
    vals_.insert(vals_.end(), ids, ids + count);
    Place(s);
    used_++;
  }

  static uint64_t Hash(const char* p, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ static_cast<unsigned char>(p[i])) * 1099511628211ull;
    return h ^ (h >> 29);
  }

 private:
  static constexpr uint32_t kEmpty = 0xFFFFFFFFu;
  struct Slot {
    uint64_t hash;
    uint32_t keyOff, keyLen, valOff, valLen;
  };
  void Reset(size_t capacity) {
    slots_.assign(capacity, Slot{0, 0, kEmpty, 0, 0});
    mask_ = capacity - 1;
    keys_.clear();
    vals_.clear();
    used_ = 0;
  }
  void Place(const Slot& s) {
    size_t i = s.hash & mask_;
    while (slots_[i].keyLen != kEmpty) i = (i + 1) & mask_;
    slots_[i] = s;
  }
  void Grow() {
    std::vector<Slot> old;
    old.swap(slots_);
    slots_.assign(old.size() * 2, Slot{0, 0, kEmpty, 0, 0});
    mask_ = slots_.size() - 1;
    for (const Slot& s : old)
      if (s.keyLen != kEmpty) Place(s);
  }
  std::vector<Slot> slots_;
  size_t mask_ = 0;
  std::string keys_;
  std::vector<int32_t> vals_;
  size_t used_ = 0;
};

struct Merge {
  int32_t rank;
  int32_t id;
};

// Byte trie of the added tokens, for leftmost-longest matching on the raw text.
struct TrieNode {
  int32_t child[256];
  int32_t id = -1;
  TrieNode() { std::fill(std::begin(child), std::end(child), -1); }
};

struct Encoder {
  std::unordered_map<std::string, int32_t> vocab;
  std::unordered_map<uint64_t, Merge> merges;
  std::vector<TrieNode> trie;  // node 0 is the root
  int32_t unk = -1;
  int32_t byteIds[256];
  bool byteFallback = false;
  bool fuseUnk = false;
  bool ignoreMerges = false;
  bool metaspace = false;  // prepend `▁` to each text piece, spaces become `▁`, words start at `▁` runs
  // Byte-level BPE: 0 off; else which pre-tokenizer pattern splits a piece into words (see SplitPattern).
  int byteLevel = 0;
  int32_t byteLevelIds[256];            // id of the character each byte stands for
  std::string byteLevelChars[256];      // that character, UTF-8
  std::vector<uint8_t> classes;         // per code point: kLetter | kNumber | kSpace (from JavaScript's regexes)

  std::mutex cacheLock;
  std::vector<std::unique_ptr<WordCache>> idle;  // caches not in use by a worker

  std::unique_ptr<WordCache> TakeCache() {
    std::lock_guard<std::mutex> g(cacheLock);
    if (idle.empty()) return std::make_unique<WordCache>();
    auto c = std::move(idle.back());
    idle.pop_back();
    return c;
  }
  void GiveCache(std::unique_ptr<WordCache> c) {
    std::lock_guard<std::mutex> g(cacheLock);
    idle.push_back(std::move(c));
  }

  // BPE of one word (UTF-8 bytes), appended to `out`.
  void Word(const char* p, size_t n, std::vector<int32_t>& out) const {
    if (ignoreMerges) {
      std::string whole;
      if (byteLevel) {
        for (size_t i = 0; i < n; i++) whole += byteLevelChars[static_cast<unsigned char>(p[i])];
      } else {
        whole.assign(p, n);
      }
      auto hit = vocab.find(whole);
      if (hit != vocab.end()) {
        out.push_back(hit->second);
        return;
      }
    }
    struct Sym {
      int32_t id, prev, next;
    };
    std::vector<Sym> syms;
    syms.reserve(n);
    bool lastUnk = false;
    std::string ch;
    for (size_t i = 0; byteLevel && i < n; i++) {
      int32_t id = byteLevelIds[static_cast<unsigned char>(p[i])];
      if (id >= 0) {
        syms.push_back({id, 0, 0});
        lastUnk = false;
      } else if (unk >= 0 && !(fuseUnk && lastUnk)) {
        syms.push_back({unk, 0, 0});
        lastUnk = true;
      }
    }
    for (size_t i = 0; !byteLevel && i < n;) {
      unsigned char c = static_cast<unsigned char>(p[i]);
      size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 1;
      if (i + len > n) len = n - i;
      ch.assign(p + i, len);
      auto hit = vocab.find(ch);
      int32_t id = -1;
      if (hit != vocab.end()) {
        id = hit->second;
      } else if (byteFallback) {
        bool all = true;
        for (size_t b = 0; b < len; b++) all = all && byteIds[static_cast<unsigned char>(p[i + b])] >= 0;
        if (all) {
          for (size_t b = 0; b < len; b++) syms.push_back({byteIds[static_cast<unsigned char>(p[i + b])], 0, 0});
          lastUnk = false;
          i += len;
          continue;
        }
      }
      i += len;
      if (id < 0) {
        if (unk < 0) continue;  // no unknown token: the character is dropped
        if (fuseUnk && lastUnk) continue;
        syms.push_back({unk, 0, 0});
        lastUnk = true;
        continue;
      }
      syms.push_back({id, 0, 0});
      lastUnk = false;
    }
    const int32_t m = static_cast<int32_t>(syms.size());
    for (int32_t i = 0; i < m; i++) {
      syms[i].prev = i - 1;
      syms[i].next = i + 1 < m ? i + 1 : -1;
    }
    // Lowest rank first, leftmost first among equal ranks.
    struct Cand {
      int32_t rank, pos;
      bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
    };
    auto rankOf = [&](int32_t a, int32_t b, Merge* found) {
      auto it = merges.find((static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b));
      if (it == merges.end()) return false;
      *found = it->second;
      return true;
    };
    std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> heap;
    Merge mg;
    for (int32_t i = 0; i + 1 < m; i++) {
      if (rankOf(syms[i].id, syms[i + 1].id, &mg)) heap.push({mg.rank, i});
    }
    std::vector<bool> gone(m, false);
    while (!heap.empty()) {
      Cand c = heap.top();
      heap.pop();
      if (gone[c.pos]) continue;
      int32_t right = syms[c.pos].next;
      if (right < 0) continue;
      if (!rankOf(syms[c.pos].id, syms[right].id, &mg) || mg.rank != c.rank) continue;  // stale
      syms[c.pos].id = mg.id;
      gone[right] = true;
      syms[c.pos].next = syms[right].next;
      if (syms[right].next >= 0) syms[syms[right].next].prev = c.pos;
      if (syms[c.pos].prev >= 0 && rankOf(syms[syms[c.pos].prev].id, mg.id, &mg)) heap.push({mg.rank, syms[c.pos].prev});
      int32_t after = syms[c.pos].next;
      if (after >= 0 && rankOf(syms[c.pos].id, syms[after].id, &mg)) heap.push({mg.rank, c.pos});
    }
    for (int32_t i = 0; i >= 0 && i < m; i = syms[i].next) out.push_back(syms[i].id);
  }

  // The pre-tokenizer patterns of byte-level BPE files, matched by hand with the semantics of a backtracking regex
  // engine (alternatives in order, greedy quantifiers):
  //   1 GPT-2:   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
  //   2 Llama 3: (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
  //   3 Qwen 2:  as Llama 3 with \p{N} for \p{N}{1,3}
  // Every character starts a match of some alternative, so the matches tile the text; `word(from, to)` gets each
  // (byte offsets).
  template <typename F>
  void SplitPattern(const char* p, size_t n, F&& word) const {
    // Code points with their byte offsets (offs has one more entry: the end).
    thread_local std::vector<uint32_t> cps;
    thread_local std::vector<uint32_t> offs;
    cps.clear();
    offs.clear();
    for (size_t i = 0; i < n;) {
      unsigned char c = static_cast<unsigned char>(p[i]);
      size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 1;
      if (i + len > n) len = n - i;
      uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
      for (size_t k = 1; k < len; k++) cp = (cp << 6) | (static_cast<unsigned char>(p[i + k]) & 0x3F);
      cps.push_back(cp);
      offs.push_back(static_cast<uint32_t>(i));
      i += len;
    }
    offs.push_back(static_cast<uint32_t>(n));
    const size_t m = cps.size();
    auto cls = [&](size_t k) -> uint8_t { return k < m && cps[k] < classes.size() ? classes[cps[k]] : 0; };
    auto isL = [&](size_t k) { return k < m && (cls(k) & kLetter); };
    auto isN = [&](size_t k) { return k < m && (cls(k) & kNumber); };
    auto isS = [&](size_t k) { return k < m && (cls(k) & kSpace); };
    auto isCrLf = [&](size_t k) { return k < m && (cps[k] == '\r' || cps[k] == '\n'); };
    auto isOther = [&](size_t k) { return k < m && !(cls(k) & (kLetter | kNumber | kSpace)); };  // [^\s\p{L}\p{N}]
    const bool caseless = byteLevel != 1;
    auto is = [&](size_t k, char lower) {
      if (k >= m) return false;
      uint32_t c = cps[k];
      if (c == static_cast<uint32_t>(lower) || (caseless && c == static_cast<uint32_t>(lower - 32))) return true;
      return caseless && lower == 's' && c == 0x17F;  // the long s folds to s
    };
    size_t i = 0;
    while (i < m) {
      size_t end = i;  // exclusive, in code points
      // Contractions.
      if (cps[i] == '\'') {
        if (is(i + 1, 's') || is(i + 1, 't') || is(i + 1, 'm') || is(i + 1, 'd')) end = i + 2;
        else if ((is(i + 1, 'r') || is(i + 1, 'v')) && is(i + 2, 'e')) end = i + 3;
        else if (is(i + 1, 'l') && is(i + 2, 'l')) end = i + 3;
      }
      if (end == i && byteLevel == 1) {
        // GPT-2: ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`
        size_t k = cps[i] == ' ' ? i + 1 : i;
        for (int alt = 0; alt < 3 && end == i; alt++) {
          auto in = alt == 0 ? std::function<bool(size_t)>(isL) : alt == 1 ? std::function<bool(size_t)>(isN) : std::function<bool(size_t)>(isOther);
          size_t from = in(k) ? k : in(i) ? i : m + 1;  // the optional space, else without it
          if (from > m) continue;
          size_t j = from;
          while (in(j)) j++;
          end = j;
        }
      } else if (end == i) {
        // [^\r\n\p{L}\p{N}]?\p{L}+
        if (isL(i)) {
          end = i + 1;
        } else if (!isCrLf(i) && !isN(i) && isL(i + 1)) {
          end = i + 2;
        }
        if (end != i) {
          while (isL(end)) end++;
        } else if (isN(i)) {
          // \p{N}{1,3} or \p{N}
          end = i + 1;
          size_t most = byteLevel == 2 ? i + 3 : i + 1;
          while (end < most && isN(end)) end++;
        } else {
          // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
          size_t from = cps[i] == ' ' && isOther(i + 1) ? i + 1 : isOther(i) ? i : m + 1;
          if (from <= m) {
            end = from;
            while (isOther(end)) end++;
            while (isCrLf(end)) end++;
          }
        }
      }
      if (end == i) {
        // Whitespace: `\s*[\r\n]+` (not GPT-2), `\s+(?!\S)`, `\s+`.
        size_t w = i;
        while (isS(w)) w++;
        if (byteLevel != 1) {
          size_t last = m + 1;
          for (size_t k = i; k < w; k++)
            if (isCrLf(k)) last = k;
          if (last <= m) end = last + 1;
        }
        if (end == i && w > i) end = (w == m || w - i == 1) ? w : w - 1;
        if (end == i) end = i + 1;  // not reached: every character matches an alternative
      }
      word(offs[i], offs[end]);
      i = end;
    }
  }

  void CachedWord(const char* p, size_t n, WordCache& cache, std::vector<int32_t>& out) const {
    if (n > kMaxCachedWord) {
      Word(p, n, out);
      return;
    }
    const uint64_t h = WordCache::Hash(p, n);
    uint32_t count = 0;
    if (const int32_t* ids = cache.Find(p, n, h, &count)) {
      out.insert(out.end(), ids, ids + count);
      return;
    }
    const size_t at = out.size();
    Word(p, n, out);
    cache.Insert(p, n, h, out.data() + at, out.size() - at);
  }

  // A piece of text between added tokens: normalized, split into words, each word through BPE.
  void Piece(const char* p, size_t n, WordCache& cache, std::string& norm, std::vector<int32_t>& out) const {
    if (n == 0) return;
    if (byteLevel) {
      SplitPattern(p, n, [&](size_t from, size_t to) { CachedWord(p + from, to - from, cache, out); });
      return;
    }
    if (!metaspace) {
      CachedWord(p, n, cache, out);
      return;
    }
    norm.clear();
    norm.append(kMeta, kMetaLen);
    for (size_t i = 0; i < n; i++) {
      if (p[i] == ' ') norm.append(kMeta, kMetaLen);
      else norm.push_back(p[i]);
    }
    // Words: a run of `▁` with the characters up to the next `▁` (or, at the start, characters before any `▁`).
    const char* s = norm.data();
    const size_t len = norm.size();
    auto isMeta = [&](size_t i) { return i + kMetaLen <= len && std::memcmp(s + i, kMeta, kMetaLen) == 0; };
    size_t start = 0;
    bool prevMeta = false;
    for (size_t i = 0; i < len;) {
      if (isMeta(i)) {
        if (!prevMeta && i > start) {
          CachedWord(s + start, i - start, cache, out);
          start = i;
        }
        prevMeta = true;
        i += kMetaLen;
      } else {
        prevMeta = false;
        i++;
      }
    }
    if (len > start) CachedWord(s + start, len - start, cache, out);
  }

  void Text(const std::string& text, WordCache& cache, std::string& norm, std::vector<int32_t>& out) const {
    const char* s = text.data();
    const size_t n = text.size();
    size_t piece = 0;
    size_t i = 0;
    while (i < n) {
      int32_t node = trie[0].child[static_cast<unsigned char>(s[i])];
      int32_t matchId = -1;
      size_t matchEnd = 0;
      for (size_t j = i + 1; node >= 0; j++) {
        if (trie[node].id >= 0) {
          matchId = trie[node].id;
          matchEnd = j;
        }
        if (j >= n) break;
        node = trie[node].child[static_cast<unsigned char>(s[j])];
      }
      if (matchId < 0) {
        i++;
        continue;
      }
      Piece(s + piece, i - piece, cache, norm, out);
      out.push_back(matchId);
      i = piece = matchEnd;
    }
    Piece(s + piece, n - piece, cache, norm, out);
  }
};

class EncodeWorker : public Napi::AsyncWorker {
 public:
  EncodeWorker(Napi::Env env, std::shared_ptr<Encoder> enc, std::vector<std::string> texts, int threads)
      : Napi::AsyncWorker(env), enc_(std::move(enc)), texts_(std::move(texts)), threads_(threads),
        deferred_(Napi::Promise::Deferred::New(env)), ids_(texts_.size()) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override {
    std::atomic<size_t> nextText{0};
    constexpr size_t kStep = 8;
    std::mutex failLock;
    std::string failure;
    // A failure (out of memory) stops every thread and rejects the promise; nothing escapes a thread.
    auto work = [this, &nextText, &failLock, &failure]() {
      try {
        auto cache = enc_->TakeCache();
        std::string norm;
        for (;;) {
          size_t from = nextText.fetch_add(kStep);
          if (from >= texts_.size()) break;
          size_t to = std::min(texts_.size(), from + kStep);
          for (size_t t = from; t < to; t++) enc_->Text(texts_[t], *cache, norm, ids_[t]);
        }
        enc_->GiveCache(std::move(cache));
      } catch (const std::exception& e) {
        nextText.store(texts_.size());
        std::lock_guard<std::mutex> g(failLock);
        if (failure.empty()) failure = std::string("bfpo's native encoder failed: ") + e.what();
      }
    };
    std::vector<std::thread> extra;
    try {
      for (int k = 1; k < threads_; k++) extra.emplace_back(work);
    } catch (const std::exception&) {
      // No more threads to be had: the threads started, and this one, do the work.
    }
    work();
    for (auto& t : extra) t.join();
    if (!failure.empty()) SetError(failure);
  }

  void OnOK() override {
    Napi::Env env = Env();
    size_t total = 0;
    for (const auto& v : ids_) total += v.size();
    auto ids = Napi::Int32Array::New(env, total);
    auto offsets = Napi::Int32Array::New(env, ids_.size() + 1);
    size_t at = 0;
    for (size_t t = 0; t < ids_.size(); t++) {
      offsets[t] = static_cast<int32_t>(at);
      if (!ids_[t].empty()) std::memcpy(ids.Data() + at, ids_[t].data(), ids_[t].size() * sizeof(int32_t));
      at += ids_[t].size();
    }
    offsets[ids_.size()] = static_cast<int32_t>(at);
    auto result = Napi::Object::New(env);
    result.Set("ids", ids);
    result.Set("offsets", offsets);
    deferred_.Resolve(result);
  }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  std::shared_ptr<Encoder> enc_;
  std::vector<std::string> texts_;
  int threads_;
  Napi::Promise::Deferred deferred_;
  std::vector<std::vector<int32_t>> ids_;
};

std::shared_ptr<Encoder>& EncoderArg(const Napi::CallbackInfo& info, size_t i) {
  if (!info[i].IsExternal()) throw ArgError("argument " + std::to_string(i) + ": expected a BPE encoder handle");
  return *info[i].As<Napi::External<std::shared_ptr<Encoder>>>().Data();
}

}  // namespace

void InitBpe(Napi::Env env, Napi::Object exports) {
  // bpeCreate(vocab: string[], merges: Int32Array [a, b, merged]*, added: string[], addedIds: Int32Array,
  //           unk: number, flags: { byteFallback, fuseUnk, ignoreMerges, metaspace, byteLevel },
  //           classes?: Uint8Array): an encoder handle. byteLevel 1-3 picks a pre-tokenizer pattern (SplitPattern);
  //           classes[cp] holds its character classes (kLetter | kNumber | kSpace) for every code point.
  // Merges come in rank order; ids are the vocabulary's (vocab[id] is the token, "" for ids without one).
  Export(env, exports, "bpeCreate", [](const Napi::CallbackInfo& info) {
    auto enc = std::make_shared<Encoder>();
    if (!info[0].IsArray()) throw ArgError("bpeCreate: vocab must be an array of strings");
    auto vocab = info[0].As<Napi::Array>();
    enc->vocab.reserve(vocab.Length());
    for (uint32_t id = 0; id < vocab.Length(); id++) {
      std::string tok = vocab.Get(id).As<Napi::String>().Utf8Value();
      if (!tok.empty()) enc->vocab.emplace(std::move(tok), static_cast<int32_t>(id));
    }
    if (!info[1].IsTypedArray()) throw ArgError("bpeCreate: merges must be an Int32Array");
    auto merges = info[1].As<Napi::Int32Array>();
    if (merges.ElementLength() % 3 != 0) throw ArgError("bpeCreate: merges must hold triples (a, b, merged)");
    enc->merges.reserve(merges.ElementLength() / 3);
    for (size_t r = 0; r < merges.ElementLength() / 3; r++) {
      uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(merges[3 * r])) << 32) | static_cast<uint32_t>(merges[3 * r + 1]);
      enc->merges.emplace(key, Merge{static_cast<int32_t>(r), merges[3 * r + 2]});  // the first rank wins
    }
    auto added = info[2].As<Napi::Array>();
    auto addedIds = info[3].As<Napi::Int32Array>();
    if (added.Length() != addedIds.ElementLength()) throw ArgError("bpeCreate: one id per added token");
    enc->trie.emplace_back();
    for (uint32_t a = 0; a < added.Length(); a++) {
      std::string s = added.Get(a).As<Napi::String>().Utf8Value();
      if (s.empty()) continue;
      int32_t node = 0;
      for (unsigned char c : s) {
        if (enc->trie[node].child[c] < 0) {
          enc->trie[node].child[c] = static_cast<int32_t>(enc->trie.size());
          enc->trie.emplace_back();
        }
        node = enc->trie[node].child[c];
      }
      enc->trie[node].id = addedIds[a];
    }
    enc->unk = static_cast<int32_t>(IntArg(info, 4));
    auto flags = info[5].As<Napi::Object>();
    auto flag = [&](const char* k) { return flags.Get(k).ToBoolean().Value(); };
    enc->byteFallback = flag("byteFallback");
    enc->fuseUnk = flag("fuseUnk");
    enc->ignoreMerges = flag("ignoreMerges");
    enc->metaspace = flag("metaspace");
    enc->byteLevel = flags.Get("byteLevel").IsNumber() ? flags.Get("byteLevel").As<Napi::Number>().Int32Value() : 0;
    if (enc->byteLevel < 0 || enc->byteLevel > 3) throw ArgError("bpeCreate: byteLevel must be 0 to 3");
    if (enc->byteLevel) {
      if (!info[6].IsTypedArray()) throw ArgError("bpeCreate: byte-level BPE needs the character classes (Uint8Array)");
      auto classes = info[6].As<Napi::Uint8Array>();
      enc->classes.assign(classes.Data(), classes.Data() + classes.ElementLength());
      // GPT-2's byte-to-character table: printable Latin-1 bytes stand for themselves, the others for 256 + n.
      int next = 0;
      for (int b = 0; b < 256; b++) {
        bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        uint32_t cp = printable ? static_cast<uint32_t>(b) : 256u + static_cast<uint32_t>(next++);
        std::string u;
        if (cp < 0x80) {
          u.push_back(static_cast<char>(cp));
        } else {
          u.push_back(static_cast<char>(0xC0 | (cp >> 6)));
          u.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        }
        enc->byteLevelChars[b] = u;
        auto hit = enc->vocab.find(u);
        enc->byteLevelIds[b] = hit == enc->vocab.end() ? -1 : hit->second;
      }
    }
    char name[8];
    for (int b = 0; b < 256; b++) {
      std::snprintf(name, sizeof(name), "<0x%02X>", b);
      auto hit = enc->vocab.find(name);
      enc->byteIds[b] = hit == enc->vocab.end() ? -1 : hit->second;
    }
    return Napi::External<std::shared_ptr<Encoder>>::New(
        info.Env(), new std::shared_ptr<Encoder>(std::move(enc)),
        [](Napi::Env, std::shared_ptr<Encoder>* p) { delete p; });
  });
  // bpeEncode(encoder, texts: string[], threads: number): Promise<{ ids: Int32Array, offsets: Int32Array }>; the ids
  // of text t are ids[offsets[t] .. offsets[t + 1]).
  Export(env, exports, "bpeEncode", [](const Napi::CallbackInfo& info) -> Napi::Value {
    auto enc = EncoderArg(info, 0);
    if (!info[1].IsArray()) throw ArgError("bpeEncode: texts must be an array of strings");
    auto arr = info[1].As<Napi::Array>();
    std::vector<std::string> texts(arr.Length());
    for (uint32_t t = 0; t < arr.Length(); t++) {
      Napi::Value v = arr.Get(t);
      if (!v.IsString()) throw ArgError("bpeEncode: text " + std::to_string(t) + " is not a string");
      texts[t] = v.As<Napi::String>().Utf8Value();
    }
    int threads = static_cast<int>(std::max<int64_t>(1, IntArg(info, 2)));
    auto* worker = new EncodeWorker(info.Env(), std::move(enc), std::move(texts), threads);
    auto promise = worker->Promise();
    worker->Queue();
    return promise;
  });
}

}  // namespace bfpo
