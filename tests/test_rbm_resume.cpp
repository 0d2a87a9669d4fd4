// Resuming the RBM training loop from its checkpoints: the files a save
// writes and the named errors of damaged ones, a resume that changes a
// setting refused (the learning rate aside, which is said), an older
// checkpoint's unrecorded settings named, and a damaged manifest or tensor
// refused before the model is touched.

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <functional>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "io/npy.hpp"
#include "models/rbm_fit.hpp"
#include "samples/rbm_metrics.hpp"
#include "tests/rbm_fit_runs.hpp"

using namespace ebm;
using namespace ebm::rbm_fit_test;

TEST_CASE("rbm/fit: checkpoints are complete numpy files and bad ones are named errors") {
  const SmallData data;
  const DataSource &train = data.train, &valid = data.valid;
  const fs::path d = fresh_dir("ckpt");
  {
    Run r(CdMethod::pcd, d, false, 1);
    r.fit.fit(train, valid);
  }
  for (const char* f : {"manifest.json", "W.npy", "b.npy", "c.npy", "W.velocity.npy", "chain.npy"})
    CHECK(fs::exists(d / f));
  CHECK(!fs::exists(fs::path(d.string() + ".tmp")));
  // a checkpoint of another shape, named by the model's description before any tensor is read
  CHECK_THROWS_WITH_AS(resume_pcd(d, 9, 4), doctest::Contains("the checkpoint has hidden = 8; this run has 9"), Error);
  // another seed
  CHECK_THROWS_WITH_AS(resume_pcd(d, 8, 5), doctest::Contains("seed = 4"), Error);
  // another method: named as such, not by the tensor PCD would miss (its chains)
  {
    const fs::path cd_dir = fresh_dir("ckpt_cd");
    {
      Run r(CdMethod::cd, cd_dir, false, 1);
      r.fit.fit(train, valid);
    }
    CHECK_THROWS_WITH_AS(resume_pcd(cd_dir, 8, 4),
                         doctest::Contains("the checkpoint has method = cd; this run has pcd"), Error);
    fs::remove_all(cd_dir);
  }
  Graph g;
  Rbm rbm = Rbm::make(g, "rbm", {.visible = 36, .hidden = 8});
  CdTrainer t = make_cd_trainer(rbm, {.method = CdMethod::pcd, .batch = 10});
  Executor ex(g, {.seed = 4});
  // a NaN in a tensor: the file is damaged (checkpoints are saved only when finite), said before training
  const fs::path good = fresh_dir("ckpt_good");
  fs::copy(d, good);
  {
    io::NpyArray w = io::read_npy(d / "W.npy");
    w.data[5] = std::nanf("");
    io::write_npy(d / "W.npy", w.rows, w.cols, w.data);
  }
  CHECK_THROWS_WITH_AS(resume_pcd(d, 8, 4), doctest::Contains("W.npy holds 1 NaN or Inf values of 288"), Error);
  // the tensors without their manifest: a damaged checkpoint, not a missing one (which would start afresh over it)
  fs::remove_all(d);
  fs::copy(good, d);
  fs::remove(d / "manifest.json");
  CHECK_THROWS_WITH_AS(resume_pcd(d, 8, 4), doctest::Contains("but no manifest.json; expected both"), Error);
  fs::remove_all(good);
  // a damaged manifest, and a missing checkpoint
  std::ofstream(d / "manifest.json") << "{ not json";
  CHECK_THROWS_WITH_AS(RbmFitter(t, ex, {.checkpoint = d, .resume = true}),
                       doctest::Contains("manifest.json is not valid JSON, cut short or edited? (parse error"), Error);
  fs::remove_all(d);
  CHECK(RbmFitter(t, ex, {.checkpoint = d, .resume = true}).epochs_done() == 0);  // nothing saved: a fresh start
  CHECK_THROWS_WITH_AS(load_checkpoint(d, "rbm", {}), doctest::Contains("no manifest.json"), Error);
  // a checkpoint that cannot be written (a file where its folder would go) is a named error too
  const fs::path blocked = fresh_dir("ckpt_blocked");
  fs::create_directories(blocked);
  std::ofstream(blocked / "file") << "in the way";
  const NamedTensor w{"W", rbm.w};
  CHECK_THROWS_WITH_AS(save_checkpoint(blocked / "file" / "ckpt", "rbm", {&w, 1}, "{}"),
                       doctest::Contains("cannot write it"), Error);
  const NamedTensor twice[] = {{"W", rbm.w}, {"b", rbm.b}, {"W", rbm.c}};  // the second W would overwrite the first
  CHECK_THROWS_WITH_AS(save_checkpoint(blocked / "ckpt", "rbm", twice, "{}"), doctest::Contains("two tensors named 'W'"),
                       Error);
  CHECK(!fs::exists(blocked / "ckpt"));
  // meta_json that is not a JSON object, and a tensor name that is no file name: refused before anything is
  // written; a tensor that cannot be written leaves no <dir>.tmp behind
  CHECK_THROWS_WITH_AS(save_checkpoint(blocked / "ckpt", "rbm", {&w, 1}, "not json"),
                       doctest::Contains("its meta_json is not valid JSON (parse error"), Error);
  CHECK_THROWS_WITH_AS(save_checkpoint(blocked / "ckpt", "rbm", {&w, 1}, ""),
                       doctest::Contains("its meta_json is not valid JSON"), Error);
  CHECK_THROWS_WITH_AS(save_checkpoint(blocked / "ckpt", "rbm", {&w, 1}, "[1, 2]"),
                       doctest::Contains("its meta_json holds [1,2]; expected a JSON object"), Error);
  for (const char* bad : {"a/b", "", "..", "a\\b"}) {
    const NamedTensor named{bad, rbm.w};
    CHECK_THROWS_WITH_AS(save_checkpoint(blocked / "ckpt", "rbm", {&named, 1}, "{}"),
                         doctest::Contains("expected a name that is a file name"), Error);
  }
  CHECK(!fs::exists(blocked / "ckpt"));
  CHECK(!fs::exists(blocked / "ckpt.tmp"));
  const NamedTensor second_fails[] = {{"W", rbm.w}, {std::string(300, 'b'), rbm.b}};  // a file name too long
  CHECK_THROWS_AS(save_checkpoint(blocked / "ckpt", "rbm", second_fails, "{}"), Error);
  CHECK(!fs::exists(blocked / "ckpt.tmp"));
  CHECK(!fs::exists(blocked / "ckpt"));
  fs::remove_all(blocked);
}

TEST_CASE("rbm/fit: a resume that changes a training setting is refused, naming it, and leaves the model untouched") {
  const SmallData data;
  const DataSource &train = data.train, &valid = data.valid;
  const fs::path d = fresh_dir("refused");
  Custom(base_cd(), base_fit(d, 1, false)).fit.fit(train, valid);
  {
    Custom same(base_cd(), base_fit(d, 3, true));  // the same settings and more epochs: accepted, nothing to say
    CHECK(same.fit.epochs_done() == 1);
    CHECK(same.fit.resume_notes().empty());
  }
  struct Change {
    const char* message;
    CdConfig cd;
    RbmFitConfig fit;
  };
  std::vector<Change> changes;
  const auto add = [&](const char* message, auto edit) {
    Change c{message, base_cd(), base_fit(d, 3, true)};
    edit(c.cd, c.fit);
    changes.push_back(std::move(c));
  };
  add("momentum = 0.5; this run has 0.6", [](CdConfig& c, RbmFitConfig&) { c.momentum = 0.6f; });
  add("weight_decay = 0.0002; this run has 0.001", [](CdConfig& c, RbmFitConfig&) { c.weight_decay = 1e-3f; });
  add("l1 = 0; this run has 0.001", [](CdConfig& c, RbmFitConfig&) { c.l1 = 1e-3f; });
  add("sparsity_cost = 0; this run has 0.1", [](CdConfig& c, RbmFitConfig&) {
    c.sparsity_cost = 0.1f;
    c.sparsity_target = 0.05f;
  });
  add("mean_field_last = false; this run has true", [](CdConfig& c, RbmFitConfig&) { c.mean_field_last = true; });
  add("lr_decay = 1; this run has 0.9", [](CdConfig&, RbmFitConfig& f) { f.lr_decay = 0.9f; });
  add("final_momentum = 0.9; this run has 0.8", [](CdConfig&, RbmFitConfig& f) { f.final_momentum = 0.8f; });
  add("momentum_switch_epoch = 2; this run has 3", [](CdConfig&, RbmFitConfig& f) { f.momentum_switch_epoch = 3; });
  add("monitor_images = 40; this run has 30", [](CdConfig&, RbmFitConfig& f) { f.monitor_images = 30; });
  add("data_seed = 1; this run has 2", [](CdConfig&, RbmFitConfig& f) { f.data_seed = 2; });
  add("batch = 10; this run has 20", [](CdConfig& c, RbmFitConfig&) { c.batch = 20; });
  add("--pixels = sampled; this run has threshold",
      [](CdConfig&, RbmFitConfig& f) { f.run_settings["--pixels"] = "threshold"; });
  for (const Change& c : changes) {
    CAPTURE(c.message);
    // The refused fitter's model keeps its own starting weights (the check comes before any tensor is read).
    Custom fresh(c.cd, [&] {
      RbmFitConfig f = c.fit;
      f.resume = false;
      return f;
    }());
    const std::vector<float> start = fresh.params();
    CHECK_THROWS_WITH_AS(fresh.fit.load(), doctest::Contains(c.message), Error);
    CHECK(fresh.params() == start);
    CHECK_THROWS_WITH_AS(Custom(c.cd, c.fit), doctest::Contains(fmt::format("resume from '{}'", d.string()).c_str()),
                         Error);
  }
  // another executor seed
  CHECK_THROWS_WITH_AS(Custom(base_cd(), base_fit(d, 3, true), 5), doctest::Contains("seed = 4; this run has 5"),
                       Error);
  // the sparsity target alone, with the penalty off in both runs, changes nothing: accepted
  CdConfig target = base_cd();
  target.sparsity_target = 0.3f;
  CHECK(Custom(target, base_fit(d, 3, true)).fit.epochs_done() == 1);
  fs::remove_all(d);
}

TEST_CASE("rbm/fit: a resume with a smaller learning rate says so and continues as a run whose rate changed there") {
  const SmallData data;
  const DataSource &train = data.train, &valid = data.valid;
  const fs::path d = fresh_dir("smaller_lr");
  Custom(base_cd(), base_fit(d, 2, false)).fit.fit(train, valid);
  CdConfig slower = base_cd();
  slower.lr = 0.02f;
  Custom resumed(slower, base_fit(d, 4, true));
  REQUIRE(resumed.fit.resume_notes().size() == 1);
  CHECK(resumed.fit.resume_notes()[0] == "resumed with lr 0.02 (checkpoint: 0.05)");
  resumed.fit.fit(train, valid);
  // Unbroken: lr 0.05 for two epochs, then 0.02 (the rate of epoch e is set as it starts).
  Custom straight(base_cd(), base_fit({}, 4, false));
  straight.fit.fit(train, valid, [&](const EpochStats& s) {
    if (s.epoch == 2) straight.trainer.config.lr = 0.02f;
  });
  CHECK(resumed.params() == straight.params());
  // A checkpoint written at the new rate records it: resumed again at that rate, nothing to say.
  CHECK(Custom(slower, base_fit(d, 5, true)).fit.resume_notes().empty());
  // Were the rate not applied (the checkpoint's kept), the weights would differ.
  Custom kept(base_cd(), base_fit({}, 4, false));
  kept.fit.fit(train, valid);
  CHECK(kept.params() != resumed.params());
  // A rate that is not a number is a damaged manifest, named, not a change of rate to note.
  const fs::path manifest = d / "manifest.json";
  std::string text;
  {
    std::ifstream in(manifest);
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  const size_t at = text.find("\"lr\":");
  REQUIRE(at != std::string::npos);
  const size_t end = text.find_first_of(",}", at);
  text.replace(at, end - at, "\"lr\":\"x\"");
  std::ofstream(manifest) << text;
  CHECK_THROWS_WITH_AS(Custom(slower, base_fit(d, 6, true)), doctest::Contains("meta key 'lr' is \"x\""), Error);
  fs::remove_all(d);
}

TEST_CASE("rbm/fit: an older checkpoint without some settings resumes, naming those it could not check") {
  const SmallData data;
  const DataSource &train = data.train, &valid = data.valid;
  const fs::path d = fresh_dir("older");
  Custom(base_cd(), base_fit(d, 1, false)).fit.fit(train, valid);
  nlohmann::json m = read_json(d / "manifest.json");
  for (const char* key : {"l1", "lr_decay", "run"}) m["meta"].erase(key);
  write_json(d / "manifest.json", m);
  Custom r(base_cd(), base_fit(d, 2, true));
  CHECK(r.fit.epochs_done() == 1);
  REQUIRE(r.fit.resume_notes().size() == 1);
  CHECK(r.fit.resume_notes()[0] ==
        "the checkpoint does not record l1, lr_decay, --pixels (it was written by an older version): not checked");
  fs::remove_all(d);
}

TEST_CASE("rbm/fit: a manifest key missing or of the wrong type is a named error, not a JSON library exception") {
  const SmallData data;
  const DataSource &train = data.train, &valid = data.valid;
  const fs::path d = fresh_dir("manifest_keys");
  Custom(base_cd(), base_fit(d, 1, false)).fit.fit(train, valid);
  const nlohmann::json good = read_json(d / "manifest.json");
  const auto refused = [&](const std::function<void(nlohmann::json&)>& edit, const std::string& message) {
    CAPTURE(message);
    nlohmann::json m = good;
    edit(m);
    write_json(d / "manifest.json", m);
    Custom r(base_cd(), base_fit(d, 2, false));
    const std::vector<float> start = r.params();
    const std::string want = fmt::format("checkpoint '{}': {}", d.string(), message);
    CHECK_THROWS_WITH_AS(r.fit.load(), doctest::Contains(want.c_str()), Error);
    CHECK(r.params() == start);
  };
  refused([](nlohmann::json& m) { m.erase("tensors"); }, "manifest.json has no key 'tensors'");
  refused([](nlohmann::json& m) { m.erase("meta"); }, "manifest.json has no key 'meta'");
  refused([](nlohmann::json& m) { m.erase("format_version"); }, "manifest.json has no key 'format_version'");
  refused([](nlohmann::json& m) { m["format_version"] = "1"; },
          "manifest.json's 'format_version' is \"1\"; expected an integer");
  refused([](nlohmann::json& m) { m["kind"] = 7; }, "manifest.json's 'kind' is 7; expected a string");
  refused([](nlohmann::json& m) { m["meta"] = "epoch 1"; },
          "manifest.json's 'meta' is \"epoch 1\"; expected an object");
  refused([](nlohmann::json& m) { m["tensors"]["b"] = "1x8"; },
          "manifest.json gives tensor 'b' the shape \"1x8\"; expected [rows, cols]");
  refused([](nlohmann::json& m) { m["tensors"]["b"] = {1, 9}; },
          "manifest.json lists tensor 'b' as [1,9], but b.npy holds [1, 8]");
  refused([](nlohmann::json& m) { m["meta"].erase("epoch"); }, "manifest.json's meta has no key 'epoch'");
  refused([](nlohmann::json& m) { m["meta"]["step"] = "many"; }, "manifest.json's meta key 'step' is \"many\"");
  refused([](nlohmann::json& m) { m["meta"]["epoch"] = -1; }, "manifest.json's meta key 'epoch' is -1");
  // counts past an int, which would wrap (to 1, or to a negative epoch that never reaches the last)
  refused([](nlohmann::json& m) { m["meta"]["epoch"] = 2147483648u; },
          "manifest.json's meta key 'epoch' is 2147483648; expected a count of at most 2147483647");
  refused([](nlohmann::json& m) { m["format_version"] = 4294967297u; }, "format_version 4294967297; expected 1");
  // a listed tensor whose file is gone; nesting deeper than any manifest's; a long value quoted in part
  refused([](nlohmann::json& m) { m["tensors"]["X"] = {3, 3}; },
          "manifest.json lists tensor 'X', but there is no file X.npy beside it");
  refused([](nlohmann::json& m) {
            nlohmann::json deep = 1;
            for (int i = 0; i < 40; ++i) deep = nlohmann::json::array({deep});
            m["meta"]["note"] = deep;
          },
          "manifest.json nests arrays or objects more than 32 deep");
  refused([](nlohmann::json& m) { m["kind"] = std::vector<int>(5000, 7); },
          "manifest.json's 'kind' is [7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7"
          ",7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7... (10001 characters); expected a string");
  // the manifest put back: it loads
  write_json(d / "manifest.json", good);
  CHECK(Custom(base_cd(), base_fit(d, 2, true)).fit.epochs_done() == 1);
  fs::remove_all(d);
}

TEST_CASE("rbm/fit: a checkpoint whose second tensor has the wrong shape leaves the first tensor unchanged") {
  const SmallData data;
  const DataSource &train = data.train, &valid = data.valid;
  const fs::path d = fresh_dir("second_tensor");
  Custom(base_cd(), base_fit(d, 2, false)).fit.fit(train, valid);
  // b (saved second, after W) replaced by a [1, 9] array, and the manifest agreeing with it
  const std::vector<float> nine(9, 0.5f);
  io::write_npy(d / "b.npy", 1, 9, nine);
  nlohmann::json m = read_json(d / "manifest.json");
  m["tensors"]["b"] = {1, 9};
  write_json(d / "manifest.json", m);
  Custom r(base_cd(), base_fit(d, 2, false));
  const std::vector<float> w(r.g.value(r.rbm.w).begin(), r.g.value(r.rbm.w).end());
  REQUIRE(io::read_npy(d / "W.npy").data != w);  // a load that copied W first would change it
  CHECK_THROWS_WITH_AS(r.fit.load(), doctest::Contains("tensor 'b' has shape [1, 9]; the model expects [1, 8]"), Error);
  CHECK(std::equal(w.begin(), w.end(), r.g.value(r.rbm.w).begin()));
  CHECK(r.fit.epochs_done() == 0);
  // the same through load_checkpoint itself
  const NamedTensor both[] = {{"W", r.rbm.w}, {"b", r.rbm.b}};
  CHECK_THROWS_WITH_AS(load_checkpoint(d, "rbm", both), doctest::Contains("tensor 'b' has shape [1, 9]"), Error);
  CHECK(std::equal(w.begin(), w.end(), r.g.value(r.rbm.w).begin()));
  fs::remove_all(d);
}

TEST_CASE("rbm/fit: a run killed at either side of an epoch's CSV row loses no row when resumed") {
  const SmallData data;
  const DataSource &train = data.train, &valid = data.valid;
  struct Killed {};  // stands for a kill in epoch 2's callback, before or after it wrote the row
  for (bool after_row : {false, true}) {
    CAPTURE(after_row);
    const fs::path d = fresh_dir("ckpt_rows"), rows = fs::path(d.string() + "_metrics.csv");
    {
      Run r(CdMethod::pcd, d, false, 3);
      samples::RbmEpochCsv csv(rows.string(), false);
      CHECK_THROWS_AS(r.fit.fit(train, valid,
                                [&](const EpochStats& s) {
                                  if (s.epoch == 2 && !after_row) throw Killed{};
                                  csv.row(s);
                                  if (s.epoch == 2) throw Killed{};
                                }),
                      Killed);
    }
    Run r(CdMethod::pcd, d, true, 3);
    CHECK(r.fit.epochs_done() == 1);  // the callback comes before the epoch's checkpoint, which was never saved
    {
      samples::RbmEpochCsv csv(rows.string(), true);
      CHECK(csv.missing_rows(r.fit.epochs_done()).empty());
      csv.keep_rows_through(r.fit.epochs_done());  // a row of epoch 2 goes: the resumed run writes it again
      r.fit.fit(train, valid, [&](const EpochStats& s) { csv.row(s); });
    }
    CHECK(samples::read_csv_columns(rows).at("epoch") == std::vector<double>{1, 2, 3});
    fs::remove_all(d);
    fs::remove(rows);
  }
}

TEST_CASE("rbm/fit: a resume that finds only the .old copy of a checkpoint continues from it and says so") {
  const SmallData data;
  const DataSource &train = data.train, &valid = data.valid;
  const fs::path d = fresh_dir("ckpt_old"), old = fs::path(d.string() + ".old");
  {
    Run r(CdMethod::pcd, d, false, 2);
    r.fit.fit(train, valid);
  }
  {
    Run r(CdMethod::pcd, d, true, 2);  // the checkpoint where a save leaves it: no note
    CHECK(r.fit.epochs_done() == 2);
    for (const std::string& n : r.fit.resume_notes()) CHECK(n.find(".old") == std::string::npos);
  }
  fs::rename(d, old);  // as a run killed between a save's two renames leaves it
  Run r(CdMethod::pcd, d, true, 3);
  CHECK(r.fit.epochs_done() == 2);
  const std::vector<std::string> notes = r.fit.resume_notes();
  CHECK(std::ranges::any_of(notes, [&](const std::string& n) {
    return n.find(fmt::format("read from '{}': the run stopped while it saved its next checkpoint", old.string())) !=
           std::string::npos;
  }));
  r.fit.fit(train, valid);  // the next save puts the checkpoint in place and drops the .old copy
  CHECK(fs::exists(d / "manifest.json"));
  CHECK(!fs::exists(old));
  CHECK(checkpoint_meta(d, "rbm").find("\"epoch\":3") != std::string::npos);
  fs::remove_all(d);
}
