//! Random but valid people: names, resident ID numbers with their check character, phones.

use chrono::{Duration, NaiveDate};
use natlis::domain::id_number::{check_character, DocumentType};
use natlis::service::persons::PersonScan;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "高", "林", "罗", "郑", "梁", "谢", "宋", "唐", "欧阳",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀", "英", "华", "平", "刚", "桂", "兰", "婷", "玉", "辉", "鑫", "宇", "浩", "晨", "欣",
];
const AREAS: &[&str] = &[
    "110105", "110108", "110101", "110115", "310104", "440305", "420102", "370202", "130102",
    "500103",
];

/// Random but valid people.
pub struct People {
    rng: StdRng,
    today: NaiveDate,
}

impl People {
    /// The same people every time: a fixed seed.
    pub fn new(today: NaiveDate) -> People {
        People {
            rng: StdRng::seed_from_u64(20_220_412),
            today,
        }
    }

    fn name(&mut self) -> String {
        let s = SURNAMES[self.rng.gen_range(0..SURNAMES.len())];
        let n = self.rng.gen_range(1..=2);
        let given: String = (0..n)
            .map(|_| GIVEN[self.rng.gen_range(0..GIVEN.len())])
            .collect();
        format!("{s}{given}")
    }

    fn id_number(&mut self) -> String {
        let area = AREAS[self.rng.gen_range(0..AREAS.len())];
        let days = self.rng.gen_range(365 * 2..365 * 85);
        let birth = self.today - Duration::days(days);
        let seq = self.rng.gen_range(0..1000);
        let first17 = format!("{area}{}{seq:03}", birth.format("%Y%m%d"));
        let arr: [u8; 17] = first17.as_bytes().try_into().expect("17 digits");
        format!("{first17}{}", check_character(&arr))
    }

    fn phone(&mut self) -> String {
        let prefix = ["138", "139", "150", "186", "177", "133"][self.rng.gen_range(0..6)];
        format!("{prefix}{:08}", self.rng.gen_range(0..100_000_000))
    }

    pub fn scan(&mut self) -> PersonScan {
        PersonScan {
            code: None,
            doc_type: Some(DocumentType::ResidentId),
            doc_no: Some(self.id_number()),
            name: Some(self.name()),
            phone: Some(self.phone()),
        }
    }
}
