select o.*, c.country from {{ ref('stg_orders') }} o join {{ ref('stg_customers') }} c using (customer_id)
