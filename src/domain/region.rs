//! 行政区划 the names of the districts natlis's public pages mention, by region code (GB/T
//! 2260). Codes it does not know are shown as they are.

/// Beijing's and Shanghai's districts.
const NAMES: &[(&str, &str, &str)] = &[
    ("110101", "东城区", "Dongcheng"),
    ("110102", "西城区", "Xicheng"),
    ("110105", "朝阳区", "Chaoyang"),
    ("110106", "丰台区", "Fengtai"),
    ("110107", "石景山区", "Shijingshan"),
    ("110108", "海淀区", "Haidian"),
    ("110109", "门头沟区", "Mentougou"),
    ("110111", "房山区", "Fangshan"),
    ("110112", "通州区", "Tongzhou"),
    ("110113", "顺义区", "Shunyi"),
    ("110114", "昌平区", "Changping"),
    ("110115", "大兴区", "Daxing"),
    ("110116", "怀柔区", "Huairou"),
    ("110117", "平谷区", "Pinggu"),
    ("110118", "密云区", "Miyun"),
    ("110119", "延庆区", "Yanqing"),
    ("310101", "黄浦区", "Huangpu"),
    ("310104", "徐汇区", "Xuhui"),
    ("310105", "长宁区", "Changning"),
    ("310106", "静安区", "Jing'an"),
    ("310107", "普陀区", "Putuo"),
    ("310109", "虹口区", "Hongkou"),
    ("310110", "杨浦区", "Yangpu"),
    ("310112", "闵行区", "Minhang"),
    ("310113", "宝山区", "Baoshan"),
    ("310115", "浦东新区", "Pudong"),
];

/// The district's name in Chinese (`zh`) or English, or the code itself.
pub fn name(code: &str, zh: bool) -> String {
    NAMES
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|(_, z, e)| if zh { z } else { e }.to_string())
        .unwrap_or_else(|| code.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_districts_are_named_unknown_codes_shown_as_they_are() {
        assert_eq!(name("110108", true), "海淀区");
        assert_eq!(name("110108", false), "Haidian");
        assert_eq!(name("999999", true), "999999");
    }
}
