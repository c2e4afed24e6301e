// Report pieces: markers in docs are replaced in place, cost-to-reach, the progress table.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "veil/tune/report.h"

using namespace veil::tune;

TEST(TuneReport, PasteBetweenMarkersIsIdempotent) {
  std::string f = std::filesystem::temp_directory_path() / ("veil-tune-md-" + std::to_string(getpid()) + ".md");
  std::ofstream(f) << "# Title\n\n<!-- t:begin -->\nold\n<!-- t:end -->\n\ntail\n";
  paste_between_markers(f, "t", "new table\n");
  paste_between_markers(f, "t", "new table\n");
  std::stringstream s;
  s << std::ifstream(f).rdbuf();
  EXPECT_EQ(s.str(), "# Title\n\n<!-- t:begin -->\nnew table\n<!-- t:end -->\n\ntail\n");
  paste_between_markers(f, "u", "x\n");  // absent markers are appended
  std::stringstream s2;
  s2 << std::ifstream(f).rdbuf();
  EXPECT_NE(s2.str().find("<!-- u:begin -->\nx\n<!-- u:end -->"), std::string::npos);
  std::filesystem::remove(f);
}

TEST(TuneReport, CostToReachAndTable) {
  SimResult r;
  r.method = "spottune";
  r.best_vs_cost = {{1.0, 3.0}, {2.0, 2.05}, {4.0, 2.0}};
  EXPECT_DOUBLE_EQ(cost_to_reach(r, 2.0, true, 0.01), 4.0);
  EXPECT_DOUBLE_EQ(cost_to_reach(r, 2.0, true, 0.05), 2.0);
  EXPECT_TRUE(std::isinf(cost_to_reach(r, 1.0, true, 0.01)));
  TrialSummary t;
  t.config = 3;
  t.status = "failed";
  t.error = "trial 3 exited with status 3";
  r.trials_table = {t};
  std::string tab = progress_table(3600, 1.5, r, "loss");
  EXPECT_NE(tab.find("t=1.00 h"), std::string::npos) << tab;
  EXPECT_NE(tab.find("exited with status 3"), std::string::npos) << tab;
  std::string svg = svg_best_vs_cost({{"spottune", r.best_vs_cost}}, "loss", "t");
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
}
