// Checkpoint folders met in the wrong state (a user's file where the folder
// would go, a manifest that is a folder), and the checked readers of a
// checkpoint's meta object (models/checkpoint_meta.hpp) that every fitter's
// resume goes through. The RBM fitter's damaged-manifest cases are in
// test_rbm_fit.cpp.

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>

#include <unistd.h>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "io_test_util.hpp"
#include "models/checkpoint.hpp"
#include "models/checkpoint_meta.hpp"
#include "models/dbn.hpp"
#include "graph/init.hpp"
#include "models/rbm_fit.hpp"

using namespace ebm;
namespace fs = std::filesystem;

namespace {

std::string contents(const fs::path& file) {
  std::ifstream in(file);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST_CASE("checkpoint: a user's file where the folder would go is refused, never replaced") {
  const io_test::TempDir scratch("ckpt_file");
  const fs::path& d = scratch.path;
  Graph g;
  const NamedTensor w{"W", g.param("W", {3, 2}, 0.5f)};
  const fs::path path = d / "checkpoint";
  std::ofstream(path) << "my notes";
  const std::string want = fmt::format("checkpoint '{}': a file, not a folder", path.string());
  CHECK_THROWS_WITH_AS(checkpoint_exists(path), doctest::Contains(want.c_str()), Error);
  CHECK_THROWS_WITH_AS(save_checkpoint(path, "test", {&w, 1}, "{}"), doctest::Contains(want.c_str()), Error);
  CHECK_THROWS_WITH_AS(load_checkpoint(path, "test", {&w, 1}), doctest::Contains(want.c_str()), Error);
  CHECK(contents(path) == "my notes");
  CHECK(!fs::exists(d / "checkpoint.tmp"));
  // a fitter refuses it when made, resuming or not, rather than at its first save
  Rbm rbm = Rbm::make(g, "rbm", {.visible = 6, .hidden = 3});
  CdTrainer t = make_cd_trainer(rbm, {.batch = 2});
  Executor ex(g, {.threads = 1});
  for (const bool resume : {false, true})
    CHECK_THROWS_WITH_AS(RbmFitter(t, ex, {.checkpoint = path, .resume = resume}), doctest::Contains(want.c_str()),
                         Error);
  CHECK(contents(path) == "my notes");
  // a folder there is saved into, and read back
  fs::remove(path);
  save_checkpoint(path, "test", {&w, 1}, R"({"epoch": 1})");
  CHECK(checkpoint_exists(path));
  CHECK(nlohmann::json::parse(checkpoint_meta(path, "test")).at("epoch") == 1);
}

TEST_CASE("checkpoint: a user's folder where the checkpoint would go is refused, never deleted") {
  const io_test::TempDir scratch("ckpt_user_folder");
  const fs::path& d = scratch.path;
  Graph g;
  const NamedTensor w{"W", g.param("W", {3, 2}, 0.5f)};
  const fs::path path = d / "work";
  fs::create_directories(path / "src");
  std::ofstream(path / "notes.txt") << "my notes";
  const std::string want = fmt::format("checkpoint '{}': '{}' is a folder that holds '", path.string(), path.string());
  CHECK_THROWS_WITH_AS(save_checkpoint(path, "test", {&w, 1}, "{}"), doctest::Contains(want.c_str()), Error);
  CHECK_THROWS_WITH_AS(checkpoint_exists(path), doctest::Contains(want.c_str()), Error);
  Rbm rbm = Rbm::make(g, "rbm", {.visible = 6, .hidden = 3});
  CdTrainer t = make_cd_trainer(rbm, {.batch = 2});
  Executor ex(g, {.threads = 1});
  for (const bool resume : {false, true})  // every fitter checks its path when made (RbmFitter for all)
    CHECK_THROWS_WITH_AS(RbmFitter(t, ex, {.checkpoint = path, .resume = resume}), doctest::Contains(want.c_str()),
                         Error);
  CHECK(contents(path / "notes.txt") == "my notes");  // it deleted the folder, notes and all, before
  CHECK(fs::is_directory(path / "src"));
  // the siblings a save replaces too: a user's <path>.old is refused the same way
  const fs::path other = d / "ckpt";
  fs::create_directories(d / "ckpt.old");
  std::ofstream(d / "ckpt.old" / "notes.txt") << "kept";
  CHECK_THROWS_WITH_AS(save_checkpoint(other, "test", {&w, 1}, "{}"), doctest::Contains("ckpt.old' is a folder"),
                       Error);
  CHECK(contents(d / "ckpt.old" / "notes.txt") == "kept");
  // a folder of what saves write (tensors whose manifest is missing: a damaged checkpoint) is replaced as before
  fs::create_directories(d / "damaged");
  std::ofstream(d / "damaged" / "W.npy") << "half";
  save_checkpoint(d / "damaged", "test", {&w, 1}, "{}");
  CHECK(checkpoint_exists(d / "damaged"));
}

TEST_CASE("checkpoint: a manifest.json that is not a regular file is a named error") {
  const io_test::TempDir scratch("ckpt_manifest_dir");
  const fs::path& d = scratch.path;
  Graph g;
  const NamedTensor w{"W", g.param("W", {3, 2}, 0.5f)};
  save_checkpoint(d / "c", "test", {&w, 1}, "{}");
  fs::remove(d / "c" / "manifest.json");
  fs::create_directories(d / "c" / "manifest.json");
  const std::string want =
      fmt::format("checkpoint '{}': its manifest.json is not a regular file", (d / "c").string());
  CHECK_THROWS_WITH_AS(checkpoint_exists(d / "c"), doctest::Contains(want.c_str()), Error);
  CHECK_THROWS_WITH_AS(checkpoint_meta(d / "c", "test"), doctest::Contains(want.c_str()), Error);
}

TEST_CASE("checkpoint meta: counts within an int, a best epoch among those done, an error of at least 0") {
  const nlohmann::json meta = {{"epoch", 5}, {"big", 2147483648u}, {"best_epoch", 3}, {"best_error", 1.5},
                               {"late", 6},  {"negative", -0.5},   {"name", "16"}};
  CHECK(meta_epoch(meta, "epoch", "here") == 5);
  CHECK(meta_count(meta, "big", "here") == 2147483648u);
  CHECK_THROWS_WITH_AS(meta_epoch(meta, "big", "here"),
                       doctest::Contains("checkpoint 'here': manifest.json's meta key 'big' is 2147483648; expected a "
                                         "count of at most 2147483647"),
                       Error);
  CHECK(meta_best(meta, "best_epoch", "best_error", 5, "here") == std::pair<int, double>{3, 1.5});
  CHECK(meta_best(meta, "best_epoch", "best_error", 3, "here").first == 3);
  CHECK_THROWS_WITH_AS(meta_best(meta, "late", "best_error", 5, "here"),
                       doctest::Contains("meta key 'late' is 6, after the 5 epochs done; expected at most 5"), Error);
  CHECK_THROWS_WITH_AS(meta_best(meta, "best_epoch", "negative", 5, "here"),
                       doctest::Contains("meta key 'negative' is -0.5; expected an error of at least 0"), Error);
  CHECK_THROWS_WITH_AS(meta_epoch(meta, "name", "here"), doctest::Contains("meta key 'name' is \"16\"; expected a count"),
                       Error);
  // values of one kind read as a user writes them; of two kinds, as JSON with their kinds
  CHECK(meta_shown_apart(nlohmann::json(0.1f), nlohmann::json(0.2f)) == std::pair<std::string, std::string>{"0.1", "0.2"});
  CHECK(meta_shown_apart(nlohmann::json("cd"), nlohmann::json("pcd")) == std::pair<std::string, std::string>{"cd", "pcd"});
  CHECK(meta_shown_apart(meta.at("name"), nlohmann::json(16)) ==
        std::pair<std::string, std::string>{"\"16\" (JSON string)", "16 (JSON number)"});
  // a resume check says which is which when only the kinds differ
  ResumeCheck c(meta, "here");
  CHECK_THROWS_WITH_AS(c.same("name", 16, "hidden units"),
                       doctest::Contains("the checkpoint has hidden units \"16\" (JSON string); this run has 16 (JSON "
                                         "number)"),
                       Error);
  // run settings that are not an object: damaged, not an older checkpoint's
  const nlohmann::json damaged = {{"run", "x"}};
  CHECK_THROWS_WITH_AS(ResumeCheck(damaged, "here").same_run({{"--labelled", "90"}}),
                       doctest::Contains("the checkpoint's run settings are \"x\"; expected an object"), Error);
}

TEST_CASE("checkpoint: save_dbn and load_dbn carry a whole stack, and refuse a DBN of other sizes or units") {
  const io_test::TempDir scratch("ckpt_dbn");
  const fs::path dir = scratch.path / "dbn";
  Graph g;
  const Dbn saved = Dbn::make(g, "d", {.layers = {6, 5, 4}, .init_std = 0.3f, .seed = 3});
  for (const Rbm& r : saved.rbms) {
    fill_normal(g.value(r.b), 0.5f, 11, 1);
    fill_normal(g.value(r.c), 0.5f, 12, 1);
  }
  save_dbn(saved, dir);
  CHECK(fs::exists(dir / "W1.npy"));
  Graph h;
  Dbn loaded = Dbn::make(h, "other", {.layers = {6, 5, 4}, .seed = 9});
  load_dbn(loaded, dir);
  for (size_t l = 0; l < 2; ++l)
    for (auto [a, b] : {std::pair{saved.rbms[l].w, loaded.rbms[l].w}, std::pair{saved.rbms[l].b, loaded.rbms[l].b},
                        std::pair{saved.rbms[l].c, loaded.rbms[l].c}}) {
      const auto x = g.value(a), y = h.value(b);
      CHECK(std::equal(x.begin(), x.end(), y.begin(), y.end()));
    }
  Graph k;
  Dbn gaussian = Dbn::make(k, "d", {.layers = {6, 5, 4}, .visible_unit = Unit::gaussian});
  const float before = k.value(gaussian.rbms[0].w)[0];
  CHECK_THROWS_WITH_AS(load_dbn(gaussian, dir),
                       doctest::Contains("the checkpoint's units are [[\"binary\",\"binary\"],[\"binary\",\"binary\"]]; "
                                         "this DBN's are [[\"gaussian\",\"binary\"]"),
                       Error);
  CHECK(k.value(gaussian.rbms[0].w)[0] == before);  // nothing copied
  Dbn deeper = Dbn::make(k, "e", {.layers = {6, 5, 4, 3}});
  CHECK_THROWS_WITH_AS(load_dbn(deeper, dir),
                       doctest::Contains("the checkpoint's layers are [6,5,4]; this DBN's are [6,5,4,3]"), Error);
  Dbn empty;
  CHECK_THROWS_WITH_AS(save_dbn(empty, dir), doctest::Contains("save_dbn: an empty Dbn"), Error);
}

TEST_CASE("checkpoint: a user's notes beside a saved model do not stop it loading, only a save over it") {
  const io_test::TempDir scratch("ckpt_notes");
  const fs::path& d = scratch.path;
  Graph g;
  const NamedTensor w{"W", g.param("W", {3, 2}, 0.5f)};
  save_checkpoint(d / "c", "test", {&w, 1}, R"({"epoch": 2})");
  std::ofstream(d / "c" / "notes.txt") << "the good run";
  std::ranges::fill(g.value(w.tensor), 0.0f);
  load_checkpoint(d / "c", "test", {&w, 1});  // it was refused with a message about saving
  CHECK(g.value(w.tensor)[5] == 0.5f);
  CHECK(nlohmann::json::parse(checkpoint_meta(d / "c", "test")).at("epoch") == 2);
  CHECK_THROWS_WITH_AS(save_checkpoint(d / "c", "test", {&w, 1}, "{}"),
                       doctest::Contains("holds 'notes.txt', which no save writes"), Error);
  CHECK(contents(d / "c" / "notes.txt") == "the good run");
  // an entry named as a save's but not a file is named as such, not as one no save writes
  fs::remove(d / "c" / "notes.txt");
  fs::remove(d / "c" / "W.npy");
  fs::create_directories(d / "c" / "W.npy");
  CHECK_THROWS_WITH_AS(save_checkpoint(d / "c", "test", {&w, 1}, "{}"),
                       doctest::Contains("holds 'W.npy', which is not a regular file"), Error);
}

TEST_CASE("checkpoint: a path ending in a slash saves beside it, and a save over another kind or model is refused") {
  const io_test::TempDir scratch("ckpt_slash_kind");
  const fs::path& d = scratch.path;
  Graph g;
  const NamedTensor w{"W", g.param("W", {3, 2}, 0.5f)};
  // "layer0/" of a folder not yet made: its copy in writing is layer0.tmp beside it, not layer0/.tmp inside it
  const fs::path slash = d / "run" / "layer0/";
  save_checkpoint(slash, "rbm", {&w, 1}, R"({"model": "d.rbm0"})");
  CHECK(checkpoint_exists(d / "run" / "layer0"));
  CHECK(checkpoint_exists(slash));
  CHECK(!fs::exists(d / "run" / "layer0" / ".tmp"));
  save_checkpoint(slash, "rbm", {&w, 1}, R"({"model": "d.rbm0", "epoch": 2})");  // its own again: replaced
  CHECK(nlohmann::json::parse(checkpoint_meta(d / "run" / "layer0", "rbm")).at("epoch") == 2);
  // another model's, or another kind's, is not this save's to replace
  const std::string layer0 = (d / "run" / "layer0").string();
  CHECK_THROWS_WITH_AS(save_checkpoint(d / "run" / "layer0", "rbm", {&w, 1}, R"({"model": "d.rbm1"})"),
                       doctest::Contains(fmt::format("'{}' holds the checkpoint of 'd.rbm0'; this one is of 'd.rbm1'",
                                                     layer0).c_str()),
                       Error);
  CHECK_THROWS_WITH_AS(save_checkpoint(d / "run" / "layer0", "dbn", {&w, 1}, "{}"),
                       doctest::Contains(fmt::format("'{}' holds a checkpoint of a 'rbm'; this one is of a 'dbn'",
                                                     layer0).c_str()),
                       Error);
  CHECK(nlohmann::json::parse(checkpoint_meta(d / "run" / "layer0", "rbm")).at("epoch") == 2);  // untouched
  // a save that names no model replaces a checkpoint of its kind, as before
  save_checkpoint(d / "run" / "layer0", "rbm", {&w, 1}, R"({"epoch": 3})");
  CHECK(nlohmann::json::parse(checkpoint_meta(d / "run" / "layer0", "rbm")).at("epoch") == 3);
}

TEST_CASE("checkpoint: check_checkpoint_files reads a whole checkpoint without a model, naming a damaged tensor") {
  const io_test::TempDir scratch("ckpt_check_files");
  const fs::path& d = scratch.path;
  Graph g;
  const NamedTensor w{"W", g.param("W", {3, 2}, 0.5f)}, b{"b", g.param("b", {1, 2}, 0.25f)};
  const NamedTensor both[] = {w, b};
  save_checkpoint(d / "ok", "classifier", both, "{}");
  CHECK_NOTHROW(check_checkpoint_files(d / "ok", "classifier"));
  CHECK_THROWS_WITH_AS(check_checkpoint_files(d / "ok", "rbm"), doctest::Contains("holds a 'classifier'; expected a 'rbm'"),
                       Error);
  // b.npy cut short, then W.npy holding a NaN: each named, as a load would name it
  fs::copy(d / "ok", d / "cut", fs::copy_options::recursive);
  fs::resize_file(d / "cut" / "b.npy", fs::file_size(d / "cut" / "b.npy") - 4);
  CHECK_THROWS_WITH_AS(check_checkpoint_files(d / "cut", "classifier"), doctest::Contains("b.npy"), Error);
  // written past save_checkpoint's own refusal of NaN: the file as a damaged disk would leave it
  save_checkpoint(d / "nan", "classifier", both, "{}");
  g.value(w.tensor)[4] = std::nanf("");
  io::write_npy(d / "nan" / "W.npy", 3, 2, g.value(w.tensor));
  CHECK_THROWS_WITH_AS(check_checkpoint_files(d / "nan", "classifier"),
                       doctest::Contains("W.npy holds 1 NaN or Inf values of 6"), Error);
}
