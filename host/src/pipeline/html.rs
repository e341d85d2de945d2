//! A self-contained HTML report with inline SVG plots: accuracy and size per stage, per-layer
//! sensitivity, confusion matrices before and after, per-segment and per-class drops.

use super::gates::fmt;
use super::report::Report;
use std::fmt::Write;

/// Escapes text for HTML and SVG.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A horizontal bar chart: one labelled bar per value; `bad` bars are drawn in red.
fn bar_chart(title: &str, bars: &[(String, f64, bool)], unit: &str, decimals: usize) -> String {
    let (row, label_w, plot_w) = (22.0, 260.0, 360.0);
    let height = 30.0 + row * bars.len() as f64 + 10.0;
    let max = bars
        .iter()
        .map(|b| b.1.abs())
        .fold(0.0f64, f64::max)
        .max(f64::MIN_POSITIVE);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="plot" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{height}" role="img" aria-label="{t}"><text x="4" y="16" class="title">{t}</text>"#,
        w = label_w + plot_w + 120.0,
        t = esc(title)
    );
    for (i, (label, value, bad)) in bars.iter().enumerate() {
        let y = 28.0 + row * i as f64;
        let w = if value.is_finite() {
            (value.abs() / max * plot_w).max(1.0)
        } else {
            0.0
        };
        let _ = write!(
            s,
            r#"<text x="{lx}" y="{ty}" text-anchor="end">{l}</text><rect x="{x}" y="{y}" width="{w:.1}" height="{h}" class="{c}"/><text x="{vx:.1}" y="{ty}">{value:.decimals$}{unit}</text>"#,
            lx = label_w - 6.0,
            ty = y + 14.0,
            l = esc(label),
            x = label_w,
            h = row - 6.0,
            c = if *bad {
                "bar bad"
            } else if *value < 0.0 {
                "bar better"
            } else {
                "bar"
            },
            vx = label_w + w + 4.0,
        );
    }
    s.push_str("</svg>");
    s
}

/// A confusion matrix as a heat map, rows = labels, columns = predictions.
fn heatmap(title: &str, m: &[Vec<usize>], names: &[String]) -> String {
    let n = m.len();
    let cell = 28.0;
    let left = 110.0;
    let top = 40.0;
    let size = (left + cell * n as f64 + 10.0).max(8.0 * title.len() as f64 + 10.0);
    let max = m.iter().flatten().copied().max().unwrap_or(1).max(1) as f64;
    let name = |i: usize| names.get(i).cloned().unwrap_or_else(|| i.to_string());
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="plot" xmlns="http://www.w3.org/2000/svg" width="{size}" height="{h}" role="img" aria-label="{t}"><text x="4" y="16" class="title">{t}</text><text x="{left}" y="32">predicted &#8594;</text>"#,
        h = top + cell * n as f64 + 10.0,
        t = esc(title)
    );
    for (r, row) in m.iter().enumerate() {
        let y = top + cell * r as f64;
        let _ = write!(
            s,
            r#"<text x="{x}" y="{ty}" text-anchor="end">{l}</text>"#,
            x = left - 6.0,
            ty = y + 18.0,
            l = esc(&name(r))
        );
        for (c, &count) in row.iter().enumerate() {
            let x = left + cell * c as f64;
            let shade = count as f64 / max;
            let fill = if r == c {
                format!("rgba(40,120,200,{shade:.3})")
            } else {
                format!("rgba(210,60,40,{shade:.3})")
            };
            let _ = write!(
                s,
                r##"<rect x="{x}" y="{y}" width="{w}" height="{w}" fill="{fill}" stroke="#ccc"><title>{l} as {p}: {count}</title></rect><text x="{cx}" y="{cy}" text-anchor="middle" class="small">{count}</text>"##,
                w = cell,
                l = esc(&name(r)),
                p = esc(&name(c)),
                cx = x + cell / 2.0,
                cy = y + 18.0
            );
        }
    }
    s.push_str("</svg>");
    s
}

const STYLE: &str = r#"body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px}
.pass{color:#176b2c;font-weight:bold}.fail{color:#b3261e;font-weight:bold}
svg.plot{display:block;margin:1em 0;font-size:12px}svg .title{font-weight:bold;font-size:13px}
svg .bar{fill:#3b7dd8}svg .bar.bad{fill:#d8453b}svg .bar.better{fill:#5aa469}svg .small{font-size:10px}
code{font-size:12px}"#;

/// The HTML report.
pub fn html(r: &Report) -> String {
    let mut s = String::new();
    let verdict = if r.passed { "PASSED" } else { "FAILED" };
    let _ = write!(
        s,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>whittle pipeline: {verdict}</title><style>{STYLE}</style></head><body>"
    );
    let _ = write!(
        s,
        "<h1>whittle pipeline: <span class=\"{}\">{verdict}</span></h1><p>{}</p>",
        if r.passed { "pass" } else { "fail" },
        esc(&r.verdict)
    );
    let stages: Vec<_> = std::iter::once(&r.baseline).chain(&r.stages).collect();
    // Accuracy and size per stage.
    s.push_str("<h2>Stages</h2>");
    let accuracy: Vec<(String, f64, bool)> = stages
        .iter()
        .filter_map(|st| {
            st.metrics.classification.as_ref().map(|c| {
                (
                    st.name.clone(),
                    100.0 * c.top1,
                    !st.passed && !st.gates.is_empty(),
                )
            })
        })
        .collect();
    if !accuracy.is_empty() {
        s.push_str(&bar_chart("Top-1 accuracy per stage", &accuracy, "%", 2));
    }
    let agreement: Vec<(String, f64, bool)> = stages
        .iter()
        .map(|st| (st.name.clone(), 100.0 * st.metrics.agreement, false))
        .collect();
    s.push_str(&bar_chart(
        "Top-1 agreement with the baseline",
        &agreement,
        "%",
        2,
    ));
    let flash: Vec<(String, f64, bool)> = stages
        .iter()
        .map(|st| {
            let over = st
                .gates
                .iter()
                .any(|g| !g.passed && (g.gate == "max_flash" || g.gate == "target.flash"));
            (st.name.clone(), st.metrics.flash_bytes as f64, over)
        })
        .collect();
    s.push_str(&bar_chart(
        "Artifact size (flash) per stage",
        &flash,
        " B",
        0,
    ));
    let ram: Vec<(String, f64, bool)> = stages
        .iter()
        .map(|st| (st.name.clone(), st.metrics.ram_bytes as f64, false))
        .collect();
    s.push_str(&bar_chart("Arena (RAM) per stage", &ram, " B", 0));
    let macs: Vec<(String, f64, bool)> = stages
        .iter()
        .map(|st| (st.name.clone(), st.metrics.macs as f64, false))
        .collect();
    s.push_str(&bar_chart(
        "Multiply-accumulates per inference, per stage",
        &macs,
        "",
        0,
    ));
    // Gates of the result.
    let last = r.last();
    let _ = write!(
        s,
        "<h2>Gates of '{}'</h2><table><tr><th>gate</th><th>limit</th><th>value</th><th>verdict</th><th>detail</th></tr>",
        esc(&last.name)
    );
    for g in &last.gates {
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{}</td></tr>",
            esc(&g.gate),
            fmt(g.limit),
            fmt(g.value),
            if g.passed { "pass" } else { "fail" },
            if g.passed { "pass" } else { "FAIL" },
            esc(&g.detail)
        );
    }
    s.push_str("</table>");
    // Per-segment and per-class drops.
    if let Some(c) = &last.metrics.classification {
        for (title, groups) in [
            ("Top-1 drop per segment (points)", &c.segments),
            ("Top-1 drop per class (points)", &c.classes),
        ] {
            if groups.is_empty() {
                continue;
            }
            let bars: Vec<(String, f64, bool)> = groups
                .iter()
                .map(|g| {
                    (
                        format!("{} ({} samples)", g.name, g.samples),
                        100.0 * g.drop,
                        g.drop > 0.0,
                    )
                })
                .collect();
            s.push_str(&bar_chart(title, &bars, "", 2));
        }
    }
    // Sensitivity.
    if let Some(f) = &r.fallback {
        s.push_str("<h2>Layer sensitivity</h2>");
        let bars: Vec<(String, f64, bool)> = f
            .sensitivity
            .iter()
            .map(|l| {
                let sqnr = l.sqnr_db.map_or("-".into(), |v| format!("{v:.1} dB"));
                (
                    format!("{} (SQNR {sqnr})", l.layer),
                    l.kl_recovered,
                    f.kept_float.contains(&l.layer),
                )
            })
            .collect();
        s.push_str(&bar_chart(
            "Mean KL won back by keeping the layer in float32 (red: kept)",
            &bars,
            "",
            5,
        ));
    }
    // Confusion matrices.
    let before = r.baseline.metrics.classification.as_ref();
    let after = last.metrics.classification.as_ref();
    if let (Some(b), Some(a)) = (before, after) {
        s.push_str(
            "<h2>Confusion matrices</h2><div style=\"display:flex;gap:2em;flex-wrap:wrap\">",
        );
        s.push_str(&heatmap("Baseline (float)", &b.confusion, &r.classes));
        s.push_str(&heatmap(
            &format!("After: {}", last.name),
            &a.confusion,
            &r.classes,
        ));
        s.push_str("</div>");
    }
    // Audit trail.
    let a = &r.audit;
    let _ = write!(
        s,
        "<h2>Audit</h2><p>{} {} &middot; target {} &middot; seed {} &middot; {} to {} &middot; schema {}</p><table><tr><th>role</th><th>file</th><th>SHA-256</th></tr>",
        esc(&a.tool),
        esc(&a.version),
        esc(&a.target),
        a.seed,
        esc(&a.started),
        esc(&a.finished),
        esc(&r.schema)
    );
    for f in std::iter::once(&a.config).chain(&a.inputs) {
        let _ = write!(
            s,
            "<tr><td>{}</td><td><code>{}</code></td><td><code>{}</code></td></tr>",
            esc(&f.role),
            esc(&f.path),
            esc(&f.sha256)
        );
    }
    s.push_str("</table></body></html>\n");
    s
}
