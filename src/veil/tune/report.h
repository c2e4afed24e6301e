// Output of veil tune: the live progress table, the SVG plot of best metric vs money, and
// the evaluation table (markdown) pasted between markers into docs/TUNING.md.
#pragma once
#include <string>
#include <vector>

#include "veil/tune/sim.h"

namespace veil::tune {

// One line per trial plus a header line with time, money and best (plain text).
std::string progress_table(double t, double spent, const SimResult& r, const std::string& metric);

struct PlotSeries {
  std::string name;
  std::vector<std::pair<double, double>> points;  // (dollars, best metric so far)
};
// Step plot of best metric vs dollars spent, one line per series, with axes and a legend.
std::string svg_best_vs_cost(const std::vector<PlotSeries>& series, const std::string& metric,
                             const std::string& title);

// Replaces the text between "<!-- NAME:begin -->" and "<!-- NAME:end -->" in `file` (the
// markers are appended if absent). Throws if the file cannot be written.
void paste_between_markers(const std::string& file, const std::string& name, const std::string& text);

// Dollars spent when a run's best first came within `tol` (relative) of `target`;
// infinity if it never did.
double cost_to_reach(const SimResult& r, double target, bool minimize, double tol);

}  // namespace veil::tune
