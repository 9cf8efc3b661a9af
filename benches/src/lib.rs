pub fn _w(){}
