/** Demo catalogue loaded by `npm start` on an empty database: a category tree and 50 products. */
export interface DemoCategory { readonly name: string; readonly parent?: string }
export interface DemoProduct { readonly name: string; readonly category: string; readonly price: string; readonly stock: number; readonly description: string }

export const DEMO_CATEGORIES: readonly DemoCategory[] = [
  { name: 'Electronics' },
  { name: 'Audio', parent: 'Electronics' },
  { name: 'Computers', parent: 'Electronics' },
  { name: 'Phones', parent: 'Electronics' },
  { name: 'Home' },
  { name: 'Kitchen', parent: 'Home' },
  { name: 'Furniture', parent: 'Home' },
  { name: 'Sports' },
  { name: 'Outdoor', parent: 'Sports' },
  { name: 'Fitness', parent: 'Sports' },
  { name: 'Books' },
];

const p = (name: string, category: string, price: string, stock: number, description: string): DemoProduct => ({ name, category, price, stock, description });

export const DEMO_PRODUCTS: readonly DemoProduct[] = [
  p('Wireless Noise-Cancelling Headphones', 'Audio', '199.99', 25, 'Over-ear bluetooth headphones with active noise cancelling and 30-hour battery.'),
  p('Studio Monitor Headphones', 'Audio', '129.00', 12, 'Closed-back wired headphones for studio mixing with a flat frequency response.'),
  p('True Wireless Earbuds', 'Audio', '89.50', 40, 'Compact bluetooth earbuds with charging case and sweat resistance.'),
  p('Portable Bluetooth Speaker', 'Audio', '59.99', 30, 'Waterproof speaker with deep bass and 12-hour playtime.'),
  p('Smart Home Speaker', 'Audio', '99.00', 18, 'Voice-controlled speaker with room-filling sound.'),
  p('Vinyl Record Player', 'Audio', '149.95', 6, 'Belt-drive turntable with built-in preamp and USB output.'),
  p('Soundbar with Subwoofer', 'Audio', '279.00', 8, 'Dolby Atmos soundbar and wireless subwoofer for home cinema.'),
  p('Ultrabook 14"', 'Computers', '1199.00', 10, 'Thin and light laptop with 16 GB RAM, 512 GB SSD and all-day battery.'),
  p('Gaming Laptop 16"', 'Computers', '1799.00', 5, 'High refresh rate gaming laptop with dedicated graphics card.'),
  p('Mechanical Keyboard', 'Computers', '109.00', 35, 'Hot-swappable mechanical keyboard with tactile switches and RGB.'),
  p('Wireless Mouse', 'Computers', '39.99', 60, 'Ergonomic wireless mouse with silent clicks.'),
  p('27" 4K Monitor', 'Computers', '349.00', 14, 'IPS monitor with 4K resolution and USB-C power delivery.'),
  p('USB-C Docking Station', 'Computers', '159.00', 20, 'Docking station with dual display, ethernet and 100 W charging.'),
  p('External SSD 1 TB', 'Computers', '119.99', 45, 'Pocket-size solid state drive with 1050 MB/s transfers.'),
  p('Smartphone Pro 128 GB', 'Phones', '999.00', 15, 'Flagship smartphone with triple camera and OLED display.'),
  p('Budget Smartphone', 'Phones', '199.00', 50, 'Affordable smartphone with a large battery and dual SIM.'),
  p('Phone Case Leather', 'Phones', '29.99', 80, 'Slim leather case with card slot.'),
  p('Fast Wireless Charger', 'Phones', '34.50', 4, 'Qi wireless charging pad with 15 W fast charging.'),
  p('Chef Knife 8"', 'Kitchen', '79.00', 22, 'Forged stainless steel chef knife with full tang.'),
  p('Cast Iron Skillet', 'Kitchen', '44.95', 28, 'Pre-seasoned 12-inch cast iron pan for stovetop and oven.'),
  p('Espresso Machine', 'Kitchen', '449.00', 7, 'Semi-automatic espresso machine with steam wand.'),
  p('Burr Coffee Grinder', 'Kitchen', '129.00', 11, 'Conical burr grinder with 40 grind settings.'),
  p('Electric Kettle', 'Kitchen', '49.99', 33, 'Gooseneck kettle with variable temperature control.'),
  p('Blender 1200 W', 'Kitchen', '99.99', 16, 'High-speed blender for smoothies and soups.'),
  p('Non-stick Cookware Set', 'Kitchen', '189.00', 9, 'Ten-piece non-stick pots and pans set.'),
  p('Ergonomic Office Chair', 'Furniture', '329.00', 10, 'Adjustable office chair with lumbar support and mesh back.'),
  p('Standing Desk', 'Furniture', '499.00', 6, 'Electric height-adjustable desk with memory presets.'),
  p('Bookshelf Oak', 'Furniture', '159.00', 12, 'Five-shelf bookcase in solid oak.'),
  p('Floor Lamp', 'Furniture', '69.00', 25, 'Dimmable LED floor lamp with warm light.'),
  p('Sofa Three-Seater', 'Furniture', '899.00', 3, 'Comfortable fabric sofa with removable covers.'),
  p('Camping Tent 4-Person', 'Outdoor', '219.00', 8, 'Waterproof dome tent for four people with quick setup.'),
  p('Sleeping Bag', 'Outdoor', '89.00', 20, 'Three-season mummy sleeping bag rated to -5 °C.'),
  p('Hiking Backpack 40 L', 'Outdoor', '129.00', 15, 'Lightweight hiking backpack with rain cover.'),
  p('Trekking Poles', 'Outdoor', '49.00', 30, 'Collapsible aluminium trekking poles with cork grips.'),
  p('Headlamp 500 Lumen', 'Outdoor', '29.00', 45, 'Rechargeable LED headlamp with red light mode.'),
  p('Insulated Water Bottle', 'Outdoor', '24.99', 70, 'Stainless steel bottle that keeps drinks cold for 24 hours.'),
  p('Yoga Mat', 'Fitness', '35.00', 40, 'Non-slip yoga mat, 6 mm thick.'),
  p('Adjustable Dumbbells', 'Fitness', '299.00', 6, 'Pair of adjustable dumbbells from 2 to 24 kg.'),
  p('Resistance Bands Set', 'Fitness', '19.99', 55, 'Five resistance bands with handles and door anchor.'),
  p('Fitness Tracker Watch', 'Fitness', '129.00', 24, 'Heart rate and sleep tracking smartwatch with GPS.'),
  p('Foam Roller', 'Fitness', '22.00', 3, 'High-density foam roller for muscle recovery.'),
  p('Running Shoes', 'Fitness', '119.00', 18, 'Cushioned running shoes for daily training.'),
  p('Designing Data-Intensive Applications', 'Books', '45.99', 20, 'The big ideas behind reliable, scalable and maintainable systems.'),
  p('The Pragmatic Programmer', 'Books', '39.99', 25, 'Your journey to mastery, 20th anniversary edition.'),
  p('Learning GraphQL', 'Books', '34.99', 15, 'Declarative data fetching for modern web apps.'),
  p('Kafka: The Definitive Guide', 'Books', '49.99', 10, 'Real-time data and stream processing at scale.'),
  p('Cooking for Engineers', 'Books', '29.95', 12, 'Recipes explained with diagrams and the science of cooking.'),
  p('Mountain Trails Guide', 'Books', '24.00', 2, 'Two hundred hikes in the mountains with maps.'),
  p('Noise-Isolating Wired Earphones', 'Audio', '19.99', 0, 'In-ear wired earphones with microphone.'),
  p('Tablet 11"', 'Computers', '449.00', 13, 'Tablet with stylus support and a laminated display.'),
];

/** "Wireless Noise-Cancelling Headphones" -> "wireless-noise-cancelling-headphones". */
export function slugify(text: string): string {
  return text
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[^\w\s-]/g, '')
    .trim()
    .replace(/[\s_-]+/g, '-')
    .slice(0, 80);
}
