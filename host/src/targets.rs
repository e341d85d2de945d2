//! Target profiles: the ISA, features, memory budgets and weight layout of a board, as TOML
//! files under `targets/` (embedded) or given by path.

use serde::{Deserialize, Serialize};
use std::path::Path;
use whittle_runtime::format::WeightLayout;

/// A target profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// Profile name, recorded in the artifact.
    pub name: String,
    /// One line about the hardware.
    pub description: String,
    /// Rust target triple the runtime is built for.
    pub triple: String,
    /// Instruction set.
    pub isa: String,
    /// ISA features the kernels may use.
    pub features: Vec<String>,
    /// Flash available to the model artifact, in bytes.
    pub flash_bytes: Option<u64>,
    /// RAM available to the arena, in bytes.
    pub ram_bytes: Option<u64>,
    /// Alignment the weight blob gets in memory.
    pub alignment: u32,
    /// Weight layout the target's kernels read.
    pub weight_layout: String,
    /// Output channels the target's int8 kernels compute together: a layer with a multiple of
    /// this many runs no remainder loop, so pruning keeps channel counts to multiples of it.
    #[serde(default = "one")]
    pub channel_multiple: u32,
}

fn one() -> u32 {
    1
}

const BUILT_IN: &[&str] = &[
    include_str!("../../targets/generic.toml"),
    include_str!("../../targets/cortex-m0plus.toml"),
    include_str!("../../targets/cortex-m3.toml"),
    include_str!("../../targets/cortex-m4f.toml"),
    include_str!("../../targets/cortex-m7.toml"),
    include_str!("../../targets/cortex-m33.toml"),
    include_str!("../../targets/riscv32imac.toml"),
    include_str!("../../targets/aarch64-a53.toml"),
    include_str!("../../targets/aarch64-a72.toml"),
    include_str!("../../targets/aarch64-dotprod.toml"),
    include_str!("../../targets/x86_64-avx2.toml"),
];

impl Target {
    /// Parses a profile from TOML text.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        let t: Target = toml::from_str(text).map_err(|e| e.to_string())?;
        if WeightLayout::from_name(&t.weight_layout).is_none() {
            return Err(format!(
                "weight_layout '{}' is not supported (only 'reference', 'blocked8' or 'widened4')",
                t.weight_layout
            ));
        }
        if t.channel_multiple == 0 {
            return Err("channel_multiple must be at least 1".into());
        }
        Ok(t)
    }

    /// The weight layout the profile names (checked when the profile was read).
    pub fn layout(&self) -> WeightLayout {
        WeightLayout::from_name(&self.weight_layout).unwrap_or_default()
    }

    /// Every built-in profile.
    pub fn built_in() -> Vec<Target> {
        BUILT_IN
            .iter()
            .map(|t| Target::from_toml(t).expect("built-in profiles are valid"))
            .collect()
    }

    /// A built-in profile by name, or a profile file by path (`.toml`).
    pub fn resolve(name_or_path: &str) -> Result<Self, String> {
        if name_or_path.ends_with(".toml") || Path::new(name_or_path).is_file() {
            let text = std::fs::read_to_string(name_or_path)
                .map_err(|e| format!("cannot read target file '{name_or_path}': {e}"))?;
            return Target::from_toml(&text)
                .map_err(|e| format!("target file '{name_or_path}': {e}"));
        }
        let all = Target::built_in();
        all.iter()
            .find(|t| t.name == name_or_path)
            .cloned()
            .ok_or_else(|| {
                let names: Vec<&str> = all.iter().map(|t| t.name.as_str()).collect();
                format!(
                    "unknown target '{name_or_path}'; built-in targets: {}",
                    names.join(", ")
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_profiles_parse_and_have_unique_names() {
        let all = Target::built_in();
        let mut names: Vec<_> = all.iter().map(|t| t.name.clone()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), all.len());
        assert!(
            Target::resolve("cortex-m4f")
                .unwrap()
                .features
                .contains(&"dsp".to_string())
        );
    }

    #[test]
    fn unknown_target_lists_the_known_ones() {
        let err = Target::resolve("cortex-m99").unwrap_err();
        assert!(
            err.contains("cortex-m4f") && err.contains("cortex-m99"),
            "{err}"
        );
    }

    #[test]
    fn channel_multiples_follow_the_kernels() {
        let multiple = |name: &str| Target::resolve(name).unwrap().channel_multiple;
        assert_eq!(multiple("generic"), 1);
        assert_eq!(multiple("cortex-m4f"), 4);
        assert_eq!(multiple("x86_64-avx2"), 8);
        let layout = |name: &str| Target::resolve(name).unwrap().layout();
        assert_eq!(layout("x86_64-avx2"), WeightLayout::Blocked8);
        assert_eq!(layout("generic"), WeightLayout::Reference);
        let base = "name='x'\ndescription=''\ntriple=''\nisa=''\nfeatures=[]\nalignment=4\nweight_layout='reference'\n";
        assert_eq!(Target::from_toml(base).unwrap().channel_multiple, 1);
        let err = Target::from_toml(&format!("{base}channel_multiple=0")).unwrap_err();
        assert!(err.contains("channel_multiple"), "{err}");
    }

    #[test]
    fn unknown_weight_layouts_are_rejected() {
        let err = Target::from_toml("name='x'\ndescription=''\ntriple=''\nisa=''\nfeatures=[]\nalignment=4\nweight_layout='blocked4'").unwrap_err();
        assert!(
            err.contains("blocked4") && err.contains("blocked8"),
            "{err}"
        );
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = Target::from_toml("name='x'\ndescription=''\ntriple=''\nisa=''\nfeatures=[]\nalignment=4\nweight_layout='reference'\nflsh_bytes=1").unwrap_err();
        assert!(err.contains("flsh_bytes"), "{err}");
    }
}
