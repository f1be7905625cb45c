-- 转送 a closed tube forwarded by the lab its site sends to, to another lab, before reception:
-- only the lab a tube is bound for (its site's lab, or the lab it was forwarded to) may
-- receive it. The step is audited (tube.forward).
ALTER TABLE tube ADD COLUMN forwarded_lab_id BIGINT REFERENCES lab(id);
